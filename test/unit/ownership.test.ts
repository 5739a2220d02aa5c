// Never adopt what isn't ours: which planned objects an existing one blocks, the objects a GoApp plans
// (checked against what it really registers), and the real program refusing before it registers anything.
import { strict as assert } from "assert";
import { GoApp, type GoAppArgs, STACK_ANNOTATION } from "../../components";
import { type ClusterObject, kubectlResource, notOurs } from "../../components/internal/cluster";
import { ForeignObjectsError, type PlannedObject, foreignObjects } from "../../ownership";
import { allRegistrations, clusterDouble, known, resetRegistrations, settle, useMocks } from "../support/mocks";
import { runProgram, stackConfig } from "../support/stacks";

const STACK = "dockyard/staging";
const DIGEST = `registry.example.com/server@sha256:${"5".repeat(64)}`;

function object(kind: string, name: string, namespace: string, metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): ClusterObject {
    const apiVersion = { Deployment: "apps/v1", Job: "batch/v1", PodDisruptionBudget: "policy/v1", HorizontalPodAutoscaler: "autoscaling/v2" }[kind] ?? "v1";
    return { apiVersion, kind, metadata: { name, namespace, ...metadata } };
}
const planned = (kind: string, apiVersion: string, namespace = "team-a"): PlannedObject => ({ apiVersion, kind, name: "server", instance: "server-workload", namespace });
const LEGACY_LABELS = { "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "dockyard", "app.kubernetes.io/instance": "server-workload" };

describe("ownership", () => {
    describe("notOurs", () => {
        const service = planned("Service", "v1");
        const cases: { title: string; metadata: Parameters<typeof object>[3]; reason: RegExp | undefined }[] = [
            { title: "this stack's annotation: ours", metadata: { annotations: { [STACK_ANNOTATION]: STACK } }, reason: undefined },
            { title: "another stack's annotation", metadata: { annotations: { [STACK_ANNOTATION]: "dockyard/prod" } }, reason: /belongs to stack dockyard\/prod/ },
            // A stack moved to another backend or organization: what it wrote before (organization first) is still its own.
            { title: "this stack's annotation as written with its old organization: ours", metadata: { annotations: { [STACK_ANNOTATION]: "organization/dockyard/staging" } }, reason: undefined },
            { title: "the same stack name in another project", metadata: { annotations: { [STACK_ANNOTATION]: "organization/shop/staging" } }, reason: /belongs to stack organization\/shop\/staging/ },
            { title: "made by hand: no annotation, no labels", metadata: {}, reason: /no dockyard\.dev\/stack annotation: someone else made it/ },
            { title: "made by this component before the annotation existed", metadata: { labels: LEGACY_LABELS }, reason: undefined },
            {
                title: "dockyard's labels but another component's instance",
                metadata: { labels: { ...LEGACY_LABELS, "app.kubernetes.io/instance": "api-workload" } },
                reason: /no dockyard\.dev\/stack annotation/,
            },
            {
                title: "this component's labels copied, but another stack's annotation",
                metadata: { labels: LEGACY_LABELS, annotations: { [STACK_ANNOTATION]: "dockyard/prod" } },
                reason: /belongs to stack/,
            },
        ];
        for (const c of cases) {
            it(c.title, () => {
                const reason = notOurs(object("Service", "server", "team-a", c.metadata), service, STACK);
                if (c.reason === undefined) assert.equal(reason, undefined);
                else assert.match(reason ?? "", c.reason);
            });
        }
    });

    describe("foreignObjects", () => {
        it("matches by kind, API group, name and namespace, and nothing else", () => {
            const plan = [planned("ServiceAccount", "v1"), planned("Deployment", "apps/v1"), planned("Service", "v1")];
            const existing = [
                object("Service", "server", "team-a"), // blocks
                object("ConfigMap", "server", "team-a"), // a kind the plan does not make
                object("Deployment", "server", "team-b"), // another namespace
                object("ServiceAccount", "other", "team-a"), // another name
            ];
            const foreign = foreignObjects(plan, existing, STACK);
            assert.deepEqual(
                foreign.map((f) => `${f.planned.kind} ${f.planned.namespace}/${f.planned.name}`),
                ["Service team-a/server"],
            );
        });

        it("takes the namespace from the object when the plan leaves it to the provider", () => {
            const [f] = foreignObjects([{ ...planned("Service", "v1"), namespace: undefined }], [object("Service", "server", "default")], STACK);
            assert.equal(f.planned.namespace, "default");
        });

        it("names every foreign object in one error, with what to do", () => {
            const error = new ForeignObjectsError(foreignObjects([planned("ServiceAccount", "v1"), planned("Service", "v1")], [object("ServiceAccount", "server", "team-a"), object("Service", "server", "team-a")], STACK), STACK);
            assert.match(error.message, /not its own \(dockyard\/staging\); nothing was created/);
            assert.match(error.message, /- ServiceAccount team-a\/server: it has no dockyard.dev\/stack annotation/);
            assert.match(error.message, /- Service team-a\/server: /);
            assert.match(error.message, /dockyard:namespace/);
        });
    });

    it("asks kubectl for each object by its fully qualified resource", () => {
        const names = [
            ["ServiceAccount", "v1"],
            ["Deployment", "apps/v1"],
            ["Service", "v1"],
            ["Job", "batch/v1"],
            ["PodDisruptionBudget", "policy/v1"],
            ["HorizontalPodAutoscaler", "autoscaling/v2"],
            ["NetworkPolicy", "networking.k8s.io/v1"],
            ["Ingress", "networking.k8s.io/v1"],
            ["HTTPRoute", "gateway.networking.k8s.io/v1"],
            ["Gateway", "gateway.networking.k8s.io/v1"],
            ["Certificate", "cert-manager.io/v1"],
        ].map(([kind, apiVersion]) => kubectlResource({ kind, apiVersion, name: "server", instance: "x" }));
        assert.deepEqual(names, [
            "serviceaccounts/server",
            "deployments.v1.apps/server",
            "services/server",
            "jobs.v1.batch/server",
            "poddisruptionbudgets.v1.policy/server",
            "horizontalpodautoscalers.v2.autoscaling/server",
            "networkpolicies.v1.networking.k8s.io/server",
            "ingresses.v1.networking.k8s.io/server",
            "httproutes.v1.gateway.networking.k8s.io/server",
            "gateways.v1.gateway.networking.k8s.io/server",
            "certificates.v1.cert-manager.io/server",
        ]);
    });

    describe("GoApp.kubernetesObjects: exactly the named objects the component registers", () => {
        before(() => useMocks());
        beforeEach(resetRegistrations);
        const base: GoAppArgs = { target: "kubernetes", image: { ref: DIGEST }, appDir: "apps/server" };
        const shapes: { title: string; args: GoAppArgs }[] = [
            { title: "a service, one replica", args: base },
            { title: "a service with two replicas (a budget)", args: { ...base, kubernetes: { replicas: 2 } } },
            { title: "an autoscaled service under its own object name", args: { ...base, kubernetes: { autoscale: { minReplicas: 2, maxReplicas: 4, cpuUtilization: 70 }, objectName: "web" } } },
            { title: "a service on an existing ServiceAccount, budget off", args: { ...base, kubernetes: { replicas: 3, serviceAccountName: "shared", podDisruptionBudget: false } } },
            { title: "a job", args: { ...base, kind: "job", appDir: "apps/hello" } },
            { title: "a service routed through a Gateway, no NetworkPolicy", args: { ...base, kubernetes: { route: { hosts: ["a.example.com"], gateway: { name: "edge" } }, networkPolicy: false } } },
            {
                title: "a service routed through an Ingress with TLS",
                args: { ...base, kubernetes: { route: { hosts: ["a.example.com"], ingress: { controllerNamespace: "ingress" }, tls: { issuer: { name: "ca" } } } } },
            },
        ];
        for (const { title, args } of shapes) {
            it(title, async () => {
                const app = new GoApp("app", args);
                await known(app.imageRef);
                await settle();
                const made = allRegistrations()
                    .filter((r) => r.custom && r.type.startsWith("kubernetes:") && r.inputs.metadata?.name !== undefined)
                    .map((r) => `${r.type.split(":")[2]} ${r.inputs.metadata.name}`)
                    .sort();
                assert.deepEqual(GoApp.kubernetesObjects("app", args).map((o) => `${o.kind} ${o.name}`).sort(), made);
                for (const r of allRegistrations().filter((r) => r.custom && r.type.startsWith("kubernetes:"))) {
                    assert.equal(r.inputs.metadata.annotations[STACK_ANNOTATION], "dockyard/test", `${r.type} ${r.name} names its stack`);
                    // So that up takes back a field changed by hand instead of stopping at the conflict.
                    assert.equal(r.inputs.metadata.annotations["pulumi.com/patchForce"], "true", `${r.type} ${r.name} forces its fields`);
                }
            });
        }

        it("a caller's annotations cannot take the stack's name or patchForce away", async () => {
            const app = new GoApp("app", { ...base, kubernetes: { annotations: { [STACK_ANNOTATION]: "someone/else/x", "pulumi.com/patchForce": "false", team: "a" } } });
            await known(app.imageRef);
            await settle();
            for (const r of allRegistrations().filter((r) => r.custom && r.type.startsWith("kubernetes:"))) {
                const { [STACK_ANNOTATION]: stack, "pulumi.com/patchForce": force, team } = r.inputs.metadata.annotations;
                assert.deepEqual({ stack, force, team }, { stack: "dockyard/test", force: "true", team: "a" }, `${r.type} ${r.name}`);
            }
        });

        it("none on Docker", () => {
            assert.deepEqual(GoApp.kubernetesObjects("app", { target: "docker", image: { ref: DIGEST }, appDir: "apps/server" }), []);
        });
    });

    describe("the staging program, before it registers anything", () => {
        const config = () => stackConfig("staging");
        const secrets = { "dockyard:registryPassword": "pw" };

        it("reads every object it would make, in its namespace, once", async () => {
            await runProgram("staging", config(), secrets);
            assert.equal(clusterDouble.reads.length, 1);
            const read = clusterDouble.reads[0].map((o) => `${o.kind} ${o.namespace}/${o.name}`).sort();
            assert.deepEqual(read, [
                "Certificate dockyard-staging/dockyard",
                "ConfigMap dockyard-staging/hello-run",
                "Deployment dockyard-staging/server",
                "Gateway dockyard-staging/dockyard",
                "HTTPRoute dockyard-staging/dockyard-redirect",
                "HTTPRoute dockyard-staging/server",
                "Job dockyard-staging/hello",
                "NetworkPolicy dockyard-staging/server",
                "PodDisruptionBudget dockyard-staging/server",
                "Service dockyard-staging/server",
                "ServiceAccount dockyard-staging/hello",
                "ServiceAccount dockyard-staging/server",
            ]);
        });

        it("refuses a Service someone made by hand where server's would go, and registers nothing", async () => {
            await assert.rejects(
                runProgram("staging", config(), secrets, [object("Service", "server", "dockyard-staging")]),
                (e: Error) => e instanceof ForeignObjectsError && /- Service dockyard-staging\/server: it has no dockyard.dev\/stack annotation/.test(e.message),
            );
            await settle();
            assert.deepEqual(allRegistrations().filter((r) => r.custom), [], "no resource registered");
        });

        it("runs a job once per change of what it runs: not again once its Job was collected, again for a new image", async () => {
            await runProgram("staging", config(), secrets);
            await settle();
            const recorded = allRegistrations().find((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name === "hello-workload-run")!.inputs.data;
            assert.match(recorded.source, /^registry\.example\.com\/hello:sha-[0-9a-f]{20}$/, "a build is recorded by what it is built from");
            const hasJob = () => allRegistrations().some((r) => r.type === "kubernetes:batch/v1:Job");
            const mine = { annotations: { [STACK_ANNOTATION]: STACK } };
            const record = (data: Record<string, string>): ClusterObject => ({ ...object("ConfigMap", "hello-run", "dockyard-staging", mine), data });

            // The TTL controller deleted the finished Job; its record names this very run.
            await runProgram("staging", config(), secrets, [record({ spec: recorded.spec, source: recorded.source, image: "registry.example.com/hello@sha256:1" })]);
            await settle();
            assert.equal(hasJob(), false, "a completed run whose Job was collected is not run again");
            assert.ok(allRegistrations().some((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name === "hello-workload-run"), "its record stays");

            // While the Job still exists, it is the program's as usual (no change, nothing runs).
            await runProgram("staging", config(), secrets, [record({ spec: recorded.spec, source: recorded.source, image: "x" }), object("Job", "hello", "dockyard-staging", mine)]);
            await settle();
            assert.equal(hasJob(), true);

            // A record of another build of hello: this one runs.
            await runProgram("staging", config(), secrets, [record({ spec: recorded.spec, source: "registry.example.com/hello:sha-00000000000000000000", image: "x" })]);
            await settle();
            assert.equal(hasJob(), true);
        });

        it("keeps its objects after a move to another backend or organization, and still refuses another stack's", async () => {
            // Deployed from a file backend (organization "organization"), then moved to a team's organization.
            const before = { annotations: { [STACK_ANNOTATION]: "organization/dockyard/staging" } };
            await runProgram("staging", config(), secrets, [object("Service", "server", "dockyard-staging", before), object("Deployment", "server", "dockyard-staging", before)], "acme");
            await settle();
            const service = allRegistrations().find((r) => r.type === "kubernetes:core/v1:Service" && r.inputs.metadata.name === "server");
            assert.equal(service?.inputs.metadata.annotations[STACK_ANNOTATION], "dockyard/staging", "the next up writes the annotation without the organization");
            await assert.rejects(
                runProgram("staging", config(), secrets, [object("Service", "server", "dockyard-staging", { annotations: { [STACK_ANNOTATION]: "acme/dockyard/prod" } })], "acme"),
                (e: Error) => e instanceof ForeignObjectsError && /Service dockyard-staging\/server: it belongs to stack acme\/dockyard\/prod/.test(e.message),
            );
        });

        it("goes ahead over the objects its own earlier run made", async () => {
            const mine = { annotations: { [STACK_ANNOTATION]: STACK } };
            await runProgram("staging", config(), secrets, [object("Service", "server", "dockyard-staging", mine), object("Deployment", "server", "dockyard-staging", mine)]);
            await settle();
            assert.ok(allRegistrations().some((r) => r.type === "kubernetes:core/v1:Service" && r.inputs.metadata.name === "server"));
        });
    });
});
