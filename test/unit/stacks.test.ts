// Each checked-in stack, evaluated by the real program under mocks.
import { strict as assert } from "assert";
import { k8sCheck } from "../support/kubernetes";
import { isSecretInput, known, ofType, registered, stackOutputs } from "../support/mocks";
import { runProgram, stackConfig } from "../support/stacks";

async function settleApps(apps: Record<string, { imageRef: any; endpoint?: any; logs?: any; metricsEndpoint?: any }>) {
    const out: Record<string, Record<string, unknown>> = {};
    for (const [name, o] of Object.entries(apps)) {
        out[name] = { imageRef: await known(o.imageRef) };
        if (o.endpoint) out[name].endpoint = await known(o.endpoint);
        if (o.logs) out[name].logs = await known(o.logs);
        if (o.metricsEndpoint) out[name].metricsEndpoint = await known(o.metricsEndpoint);
    }
    return out;
}

const STAGING_SERVER = `registry.example.com/server@sha256:${"5".repeat(64)}`;
const STAGING_HELLO = `registry.example.com/hello@sha256:${"6".repeat(64)}`;

describe("stacks", function () {
    this.timeout(120_000);

    describe("dev: the local Docker engine", () => {
        let outputs: Record<string, Record<string, unknown>>;
        before(async () => {
            const program = await runProgram("dev", stackConfig("dev"));
            outputs = await settleApps(program.apps);
        });

        it("runs server as a service on 127.0.0.1:8080 and hello as a job", () => {
            assert.equal(outputs.server.endpoint, "http://127.0.0.1:8080");
            assert.equal(outputs.hello.logs, "Hello, World!\n");
            assert.match(String(outputs.server.imageRef), /^dockyard\/server:sha-[0-9a-f]{20}$/);
            assert.match(String(outputs.hello.imageRef), /^dockyard\/hello:sha-[0-9a-f]{20}$/);
        });

        it("registers images, containers and nothing of Kubernetes", () => {
            const server = registered("docker:index/container:Container", "server-workload-container").inputs;
            // The app on its fixed loopback port, its metrics on a loopback port of the engine's choosing.
            assert.deepEqual(server.ports, [
                { internal: 8080, external: 8080, ip: "127.0.0.1", protocol: "tcp" },
                { internal: 9102, ip: "127.0.0.1", protocol: "tcp" },
            ]);
            assert.match(String(outputs.server.metricsEndpoint), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
            assert.equal(server.wait, true, "up waits for server's HEALTHCHECK, read from its Dockerfile");
            assert.equal(server.image, outputs.server.imageRef);
            assert.equal(server.readOnly, true);
            const hello = registered("docker:index/container:Container", "hello-workload-container").inputs;
            assert.equal(hello.mustRun, false);
            assert.equal(hello.image, outputs.hello.imageRef);
            for (const app of ["server", "hello"]) {
                const build = registered("docker:index/image:Image", `${app}-image-build`).inputs;
                assert.equal(build.skipPush, true);
                assert.equal(build.build.context, `apps/${app}`);
                assert.equal(build.buildOnPreview, true);
            }
            assert.deepEqual(ofType("dockyard:index:GoApp").map((r) => r.name).sort(), ["hello", "server"]);
            // How recover:dev tells this stack's containers from anything else on the engine.
            for (const app of ["server", "hello"]) {
                const labels = registered("docker:index/container:Container", `${app}-workload-container`).inputs.labels;
                assert.deepEqual(
                    labels.filter((l: { label: string }) => !l.label.startsWith("dockyard.dev/image")),
                    [
                        { label: "dockyard.dev/stack", value: "dockyard/dev" },
                        { label: "dockyard.dev/project-dir", value: process.cwd() },
                        { label: "dockyard.dev/app", value: app },
                    ],
                );
            }
            assert.equal(ofType("kubernetes:apps/v1:Deployment").length + ofType("kubernetes:core/v1:Namespace").length, 0);
        });
    });

    describe("dev: the Go image from the environment", () => {
        afterEach(() => delete process.env.DOCKYARD_GO_IMAGE);

        it("builds with DOCKYARD_GO_IMAGE when the stack names no goImage, without touching the stack file", async () => {
            process.env.DOCKYARD_GO_IMAGE = "local/go:offline";
            await runProgram("dev", stackConfig("dev"));
            for (const app of ["server", "hello"]) {
                assert.equal(registered("docker:index/image:Image", `${app}-image-build`).inputs.build.args.GO_IMAGE, "local/go:offline");
            }
        });

        it("lets the stack's own dockyard:goImage win over the environment", async () => {
            process.env.DOCKYARD_GO_IMAGE = "local/go:offline";
            await runProgram("dev", { ...stackConfig("dev"), "dockyard:goImage": "mirror.example/golang:1.26" });
            assert.equal(registered("docker:index/image:Image", "server-image-build").inputs.build.args.GO_IMAGE, "mirror.example/golang:1.26");
        });

        it("leaves the Dockerfile's default when neither is set", async () => {
            await runProgram("dev", stackConfig("dev"));
            assert.deepEqual(registered("docker:index/image:Image", "server-image-build").inputs.build.args, {});
        });
    });

    for (const [stack, replicas, limits] of [
        ["staging", 2, { cpu: "500m", memory: "128Mi" }],
        ["prod", 3, { cpu: "250m", memory: "64Mi" }],
    ] as const) {
        describe(`${stack}: Kubernetes`, () => {
            let outputs: Record<string, Record<string, unknown>>;
            before(async () => {
                // What staging deployed, for prod to promote.
                stackOutputs.set("organization/dockyard/staging", {
                    apps: { server: { imageRef: STAGING_SERVER }, hello: { imageRef: STAGING_HELLO } },
                    sourceCommit: "5eed5eed",
                });
                const program = await runProgram(stack, stackConfig(stack), { "dockyard:registryPassword": "s3cret" });
                outputs = await settleApps(program.apps);
            });

            it("creates its namespace with Pod Security restricted enforced, pinned to a Kubernetes minor", () => {
                const ns = registered("kubernetes:core/v1:Namespace", "namespace");
                assert.equal(ns.inputs.metadata.name, `dockyard-${stack}`);
                for (const mode of ["enforce", "warn", "audit"]) {
                    assert.equal(ns.inputs.metadata.labels[`pod-security.kubernetes.io/${mode}`], "restricted");
                    assert.equal(ns.inputs.metadata.labels[`pod-security.kubernetes.io/${mode}-version`], "v1.37");
                }
            });

            it("creates the namespace with a plain create, which fails on one that exists instead of adopting it", () => {
                const provider = registered("pulumi:providers:kubernetes", "namespace-provider");
                assert.equal(provider.inputs.enableServerSideApply, "false");
                assert.ok(registered("kubernetes:core/v1:Namespace", "namespace").provider?.includes("::namespace-provider::"));
                // Empty, not KUBECONFIG's value: a kubeconfig the provider is given, it copies into the temp dir on every run.
                assert.equal(provider.inputs.kubeconfig, "");
                // Every other object stays on the default provider, with server-side apply.
                const deployment = registered("kubernetes:apps/v1:Deployment", "server-workload-deployment");
                assert.ok(!deployment.provider?.includes("namespace-provider"));
            });

            it(stack === "staging" ? "pushes each image with the secret password and deploys it by digest" : "promotes staging's digests and builds nothing", () => {
                if (stack === "prod") {
                    assert.deepEqual(ofType("docker:index/image:Image"), []);
                    assert.equal(registered("pulumi:pulumi:StackReference", "promote-from").inputs.name, "organization/dockyard/staging");
                    assert.equal(outputs.server.imageRef, STAGING_SERVER);
                    assert.equal(outputs.hello.imageRef, STAGING_HELLO);
                }
                for (const app of stack === "staging" ? ["server", "hello"] : []) {
                    const build = registered("docker:index/image:Image", `${app}-image-build`).inputs;
                    assert.equal(build.skipPush, false);
                    assert.ok(isSecretInput(build.registry));
                    assert.deepEqual(build.registry.value, { server: "registry.example.com", username: "dockyard-ci", password: "s3cret" });
                    assert.match(String(outputs[app].imageRef), /^registry\.example\.com\/[a-z]+@sha256:[0-9a-f]{64}$/);
                }
                const d = registered("kubernetes:apps/v1:Deployment", "server-workload-deployment").inputs;
                assert.equal(d.spec.template.spec.containers[0].image, outputs.server.imageRef);
                const j = registered("kubernetes:batch/v1:Job", "hello-workload-job").inputs;
                assert.equal(j.spec.template.spec.containers[0].image, outputs.hello.imageRef);
            });

            it(`runs server with ${replicas} replicas and its limits in the namespace`, () => {
                const d = registered("kubernetes:apps/v1:Deployment", "server-workload-deployment").inputs;
                assert.equal(d.metadata.namespace, `dockyard-${stack}`);
                assert.equal(d.spec.replicas, replicas);
                assert.deepEqual(d.spec.template.spec.containers[0].resources.limits, limits);
                assert.equal(outputs.server.endpoint, `server.dockyard-${stack}.svc.cluster.local:8080`);
            });

            it("probes server on the health paths it serves, as the stack file says", () => {
                const [c] = registered("kubernetes:apps/v1:Deployment", "server-workload-deployment").inputs.spec.template.spec.containers;
                assert.deepEqual([c.readinessProbe.httpGet, c.livenessProbe.httpGet], [{ path: "/readyz", port: "http" }, { path: "/healthz", port: "http" }]);
            });

            it("registers no Docker container", () => {
                assert.equal(ofType("docker:index/container:Container").length, 0);
            });

            it("produces objects that pass the schema and Pod Security restricted", () => {
                const objects = ["kubernetes:core/v1:Namespace", "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", "kubernetes:batch/v1:Job"].flatMap((t) =>
                    ofType(t).map((r) => r.inputs),
                );
                assert.equal(objects.length, 4);
                for (const r of k8sCheck(objects)) assert.deepEqual(r.problems, [], `${r.kind} ${r.name}`);
            });
        });
    }
});
