// The policy pack, run without the CLI: compliant resources come from the
// real program and components under mocks; each violating one breaks one rule.
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { strict as assert } from "assert";
import { DockerWorkload } from "../../components/dockerWorkload";
import { KubernetesWorkload } from "../../components/kubernetesWorkload";
import { policies } from "../../policy/policies";
import { type Registration, allRegistrations, known, resetRegistrations, useMocks } from "../support/mocks";
import { runProgram, stackConfig } from "../support/stacks";

interface Resource {
    type: string;
    name: string;
    props: Record<string, any>;
}
interface Violation {
    policy: string;
    message: string;
}
type PolicyConfig = Record<string, Record<string, unknown>>;

class NotApplicable extends Error {}

function defaults(policy: ResourceValidationPolicy): Record<string, unknown> {
    return Object.fromEntries(Object.entries(policy.configSchema?.properties ?? {}).map(([k, v]) => [k, (v as { default?: unknown }).default]));
}

/** Runs every policy on a resource as the analyzer would, collecting violations. */
async function check(resource: Resource, config: PolicyConfig = {}): Promise<Violation[]> {
    const found: Violation[] = [];
    for (const policy of policies) {
        const args = {
            type: resource.type,
            name: resource.name,
            props: resource.props,
            urn: `urn:pulumi:test::dockyard::${resource.type}::${resource.name}`,
            opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: {}, additionalSecretOutputs: [] },
            stackTags: new Map(),
            isType: (cls: { __pulumiType?: string }) => cls.__pulumiType === resource.type,
            asType: () => undefined,
            getConfig: () => ({ ...defaults(policy), ...config[policy.name] }),
            notApplicable: (reason?: string) => {
                throw new NotApplicable(reason);
            },
        } as unknown as ResourceValidationArgs;
        for (const validate of [policy.validateResource ?? []].flat()) {
            try {
                await validate(args, (message) => found.push({ policy: policy.name, message }));
            } catch (e) {
                if (!(e instanceof NotApplicable)) throw e;
            }
        }
    }
    return found;
}

const customResources = (rs: readonly Registration[]): Resource[] => rs.filter((r) => r.custom).map((r) => ({ type: r.type, name: r.name, props: r.inputs }));

describe("policy pack", () => {
    const compliant: Resource[] = [];

    before(async () => {
        for (const stack of ["dev", "staging", "prod"]) {
            const program = await runProgram(stack, stackConfig(stack), stack === "dev" ? {} : { "dockyard:registryPassword": "pw" });
            await Promise.all(Object.values(program.apps).flatMap((a) => [known(a.imageRef), a.endpoint && known(a.endpoint)]));
            await new Promise((r) => setTimeout(r, 100));
            compliant.push(...customResources(allRegistrations()));
        }
        resetRegistrations();
        await useMocks();
        const lb = new KubernetesWorkload("edge", { image: `r.example.com/edge@sha256:${"d".repeat(64)}`, serviceType: "LoadBalancer" });
        const net = new DockerWorkload("netted", { image: "dockyard/server:sha-0123456789abcdef0123", createNetwork: true });
        const ingressed = new KubernetesWorkload("ingressed", {
            image: `r.example.com/edge@sha256:${"d".repeat(64)}`,
            route: { hosts: ["a.example.com", "b.example.com"], ingress: { controllerNamespace: "ingress-nginx" }, tls: { issuer: { name: "ca" } } },
        });
        await Promise.all([known(lb.service!.urn), known(lb.deployment!.urn), known(net.container.urn), known(ingressed.ingress!.urn)]);
        compliant.push(...customResources(allRegistrations()).map((r) => ({ ...r, name: `component-${r.name}` })));
    });

    it("passes everything the stacks and components produce", async () => {
        const types = new Set(compliant.map((r) => r.type));
        for (const t of [
            "docker:index/container:Container",
            "docker:index/image:Image",
            "kubernetes:apps/v1:Deployment",
            "kubernetes:batch/v1:Job",
            "kubernetes:core/v1:Service",
            "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
            "kubernetes:gateway.networking.k8s.io/v1:Gateway",
            "kubernetes:networking.k8s.io/v1:Ingress",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        ]) {
            assert.ok(types.has(t), `no ${t} among the compliant resources`);
        }
        for (const r of compliant) {
            const config: PolicyConfig = r.name === "component-edge-service" ? { "dockyard-load-balancer-allowed": { allowLoadBalancer: true } } : {};
            assert.deepEqual(await check(r, config), [], `${r.type} ${r.name}`);
        }
    });

    const base = (type: string, name: string) => {
        const found = compliant.find((r) => r.type === type && r.name === name);
        assert.ok(found, `no ${type} ${name}`);
        return structuredClone(found);
    };
    const breaking = (type: string, name: string, change: (p: any) => void): Resource => {
        const r = base(type, name);
        change(r.props);
        return r;
    };
    const container = (change: (p: any) => void) => breaking("docker:index/container:Container", "server-workload-container", change);
    const deployment = (change: (p: any) => void) => breaking("kubernetes:apps/v1:Deployment", "server-workload-deployment", change);
    const job = (change: (p: any) => void) => breaking("kubernetes:batch/v1:Job", "hello-workload-job", change);
    const podContainer = (p: any) => p.spec.template.spec.containers[0];

    const violations: [string, () => Resource, string, RegExp, PolicyConfig?][] = [
        ["a container on latest", () => container((p) => (p.image = "nginx:latest")), "dockyard-images-pinned", /runs image "nginx:latest".*by digest/],
        ["an untagged container image", () => container((p) => (p.image = "nginx")), "dockyard-images-pinned", /runs image "nginx"/],
        ["an image built as latest", () => breaking("docker:index/image:Image", "server-image-build", (p) => (p.imageName = "dockyard/server:latest")), "dockyard-images-pinned", /tagged "dockyard\/server:latest"/],
        ["a Deployment on an untagged image", () => deployment((p) => (podContainer(p).image = "ghcr.io/acme/server")), "dockyard-images-pinned", /container "server" runs image "ghcr.io\/acme\/server"/],
        ["a container running as root", () => container((p) => (p.user = "root")), "dockyard-hardened-workloads", /user: a non-root UID/],
        ["a container with no user", () => container((p) => delete p.user), "dockyard-hardened-workloads", /user: a non-root UID/],
        ["a container with a writable root", () => container((p) => (p.readOnly = false)), "dockyard-hardened-workloads", /readOnly: true/],
        ["a container keeping capabilities", () => container((p) => (p.capabilities = { drops: [] })), "dockyard-hardened-workloads", /capabilities.drops/],
        ["a container allowed new privileges", () => container((p) => (p.securityOpts = [])), "dockyard-hardened-workloads", /no-new-privileges/],
        ["a privileged container", () => container((p) => (p.privileged = true)), "dockyard-hardened-workloads", /privileged: false/],
        ["a pod that may run as root", () => deployment((p) => { delete p.spec.template.spec.securityContext.runAsNonRoot; delete podContainer(p).securityContext.runAsNonRoot; }), "dockyard-hardened-workloads", /runAsNonRoot: true/],
        ["a pod with a writable root", () => deployment((p) => (podContainer(p).securityContext.readOnlyRootFilesystem = false)), "dockyard-hardened-workloads", /readOnlyRootFilesystem: true/],
        ["a pod allowed to escalate", () => deployment((p) => (podContainer(p).securityContext.allowPrivilegeEscalation = true)), "dockyard-hardened-workloads", /allowPrivilegeEscalation: false/],
        ["a job keeping capabilities", () => job((p) => delete podContainer(p).securityContext.capabilities), "dockyard-hardened-workloads", /capabilities.drop/],
        ["a container without a memory limit", () => container((p) => delete p.memory), "dockyard-resource-limits", /no memory \(MiB\) limit/],
        ["a container without a CPU limit", () => container((p) => delete p.cpus), "dockyard-resource-limits", /no cpus limit/],
        ["a Deployment without a CPU limit", () => deployment((p) => delete podContainer(p).resources.limits.cpu), "dockyard-resource-limits", /no cpu limit/],
        ["a Job without limits", () => job((p) => delete podContainer(p).resources.limits), "dockyard-resource-limits", /no cpu or memory limit/],
        ["a Deployment without readiness", () => deployment((p) => delete podContainer(p).readinessProbe), "dockyard-health-probes", /no readinessProbe/],
        ["a Deployment without liveness", () => deployment((p) => delete podContainer(p).livenessProbe), "dockyard-health-probes", /no livenessProbe/],
        ["a port with no host IP", () => container((p) => delete p.ports[0].ip), "dockyard-explicit-host-ip", /on every interface by default/],
        ["a port on 0.0.0.0", () => container((p) => (p.ports[0].ip = "0.0.0.0")), "dockyard-explicit-host-ip", /on 0\.0\.0\.0/],
        ["an Ingress host without TLS", () => breaking("kubernetes:networking.k8s.io/v1:Ingress", "component-ingressed-ingress", (p) => (p.spec.tls[0].hosts = ["a.example.com"])), "dockyard-route-tls", /serves b\.example\.com over plain HTTP/],
        ["an HTTPRoute declared plain HTTP", () => breaking("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "server-workload-route", (p) => (p.metadata.annotations["dockyard.dev/route-tls"] = "false")), "dockyard-route-tls", /declared plain HTTP/],
        ["a LoadBalancer on a stack that does not allow it", () => breaking("kubernetes:core/v1:Service", "component-edge-service", () => undefined), "dockyard-load-balancer-allowed", /type LoadBalancer, which this stack does not allow/],
    ];

    for (const [label, make, policy, message] of violations) {
        it(`flags ${label}, and nothing else`, async () => {
            const resource = make();
            const found = await check(resource);
            assert.equal(found.length, 1, JSON.stringify(found, null, 2));
            assert.equal(found[0].policy, policy);
            assert.match(found[0].message, message);
            assert.ok(found[0].message.includes(`"${resource.name}"`), "the message names the resource");
        });
    }

    it("lets a stack opt in to wildcard host IPs and LoadBalancers", async () => {
        assert.deepEqual(await check(container((p) => (p.ports[0].ip = "0.0.0.0")), { "dockyard-explicit-host-ip": { allowWildcard: true } }), []);
        assert.deepEqual(await check(base("kubernetes:core/v1:Service", "component-edge-service"), { "dockyard-load-balancer-allowed": { allowLoadBalancer: true } }), []);
    });

    it("does not judge an image reference a preview does not know yet", async () => {
        assert.deepEqual(await check(container((p) => (p.image = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"))), []);
    });
});
