// The objects KubernetesWorkload produces, checked offline against the
// Kubernetes OpenAPI schema, the strict Go API types and Pod Security
// Standards "restricted".
import { strict as assert } from "assert";
import { KubernetesWorkload, type KubernetesWorkloadArgs } from "../../components/kubernetesWorkload";
import { k8sCheck, k8scheckBinary, openApiProblems } from "../support/kubernetes";
import { known, ofType, resetRegistrations, useMocks } from "../support/mocks";

const IMAGE = `registry.local/app@sha256:${"c".repeat(64)}`;

const variants: [string, KubernetesWorkloadArgs][] = [
    ["a default service", { image: IMAGE }],
    ["a tuned service", { image: IMAGE, namespace: "shop", replicas: 3, port: 9090, servicePort: 80, serviceType: "LoadBalancer", objectName: "web", env: { A: "b" }, annotations: { "x.io/y": "z" } }],
    ["a service without preStop", { image: IMAGE, preStopSleepSeconds: 0, serviceType: "NodePort" }],
    ["a job", { image: IMAGE, kind: "job", backoffLimit: 0, ttlSecondsAfterFinished: 60 }],
    ["an autoscaled service", { image: IMAGE, namespace: "shop", autoscale: { minReplicas: 2, maxReplicas: 6, cpuUtilization: 70 }, nodeLossTolerationSeconds: 45 }],
];
const KINDS = [
    "kubernetes:apps/v1:Deployment",
    "kubernetes:core/v1:Service",
    "kubernetes:batch/v1:Job",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:policy/v1:PodDisruptionBudget",
];

async function objectsFor(name: string, args: KubernetesWorkloadArgs): Promise<any[]> {
    resetRegistrations();
    const w = new KubernetesWorkload(name, args);
    await Promise.all([w.deployment, w.service, w.job, w.autoscaler, w.podDisruptionBudget].filter((r) => r !== undefined).map((r) => known(r!.urn)));
    return KINDS.flatMap((t) => ofType(t).map((r) => r.inputs));
}

describe("Kubernetes objects validate offline", function () {
    this.timeout(180_000);
    before(async () => {
        await useMocks();
        k8scheckBinary();
    });

    for (const [label, args] of variants) {
        describe(label, () => {
            let objects: any[];
            before(async () => {
                objects = await objectsFor(label.replace(/\W+/g, "-"), args);
                assert.ok(objects.length > 0);
            });

            it("against the OpenAPI schema", () => {
                for (const o of objects) assert.deepEqual(openApiProblems(o), [], `${o.kind}`);
            });

            it("with no field the API types lack, and Pod Security restricted", () => {
                const results = k8sCheck(objects);
                assert.equal(results.length, objects.length);
                for (const r of results) assert.deepEqual(r.problems, [], `${r.kind} ${r.name}`);
            });
        });
    }

    describe("the checks themselves catch what they should", () => {
        let deployment: any;
        before(async () => {
            deployment = (await objectsFor("control", { image: IMAGE })).find((o) => o.kind === "Deployment");
        });
        const mutated = (change: (d: any) => void) => {
            const copy = structuredClone(deployment);
            change(copy);
            return copy;
        };

        it("a misspelt field passes kubernetes-models but not the strict check", () => {
            const typo = mutated((d) => (d.spec.template.spec.containers[0].imagePullPolicyy = "Always"));
            assert.deepEqual(openApiProblems(typo), []);
            assert.deepEqual(k8sCheck([typo])[0].problems, ['schema: unknown field "spec.template.spec.containers[0].imagePullPolicyy"']);
        });

        it("a wrong type fails both", () => {
            const wrong = mutated((d) => (d.spec.replicas = "three"));
            assert.notDeepEqual(openApiProblems(wrong), []);
            assert.match(k8sCheck([wrong])[0].problems.join("\n"), /cannot unmarshal string .*spec\.replicas of type int32/);
        });

        it("a missing required field fails the OpenAPI schema", () => {
            const missing = mutated((d) => delete d.spec.selector);
            assert.match(openApiProblems(missing).join("\n"), /selector/);
        });

        it("each loosening breaks Pod Security restricted", () => {
            const loosenings: [string, (d: any) => void, RegExp][] = [
                ["root allowed", (d) => { delete d.spec.template.spec.securityContext.runAsNonRoot; delete d.spec.template.spec.containers[0].securityContext.runAsNonRoot; }, /runAsNonRoot != true/],
                ["escalation allowed", (d) => (d.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation = true), /allowPrivilegeEscalation != false/],
                ["capabilities kept", (d) => delete d.spec.template.spec.containers[0].securityContext.capabilities, /unrestricted capabilities/],
                ["no seccomp", (d) => delete d.spec.template.spec.securityContext.seccompProfile, /seccompProfile/],
                ["privileged", (d) => (d.spec.template.spec.containers[0].securityContext.privileged = true), /privileged/],
                ["host network", (d) => (d.spec.template.spec.hostNetwork = true), /host namespaces/],
            ];
            for (const [what, change, expected] of loosenings) {
                assert.match(k8sCheck([mutated(change)])[0].problems.join("\n"), expected, what);
            }
        });
    });
});
