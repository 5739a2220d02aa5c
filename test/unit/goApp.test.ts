import { strict as assert } from "assert";
import { DockerWorkload } from "../../components/dockerWorkload";
import { GoApp } from "../../components/goApp";
import { KubernetesWorkload } from "../../components/kubernetesWorkload";
import { UNKNOWN, isSecretInput, known, ofType, registered, resetRegistrations, settle, typeChain, unwrap, useMocks, valueOf, warningsDuring } from "../support/mocks";

const CONTAINER = "docker:index/container:Container";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const IMAGE = "docker:index/image:Image";

function onDocker(app: GoApp): DockerWorkload {
    assert.ok(app.workload instanceof DockerWorkload, "a Docker target runs a DockerWorkload");
    return app.workload;
}

function onKubernetes(app: GoApp): KubernetesWorkload {
    assert.ok(app.workload instanceof KubernetesWorkload, "a Kubernetes target runs a KubernetesWorkload");
    return app.workload;
}

describe("GoApp", () => {
    describe("on Docker", () => {
        before(() => useMocks());
        beforeEach(resetRegistrations);

        it("builds the image and runs the service from its content tag", async () => {
            const app = new GoApp("server", { appDir: "apps/server", target: "docker", port: 8080, docker: { hostPort: 8080 } });
            assert.equal(await known(app.endpoint), "http://127.0.0.1:8080");
            const ref = await known(app.imageRef);
            assert.match(ref, /^dockyard\/server:sha-[0-9a-f]{20}$/);
            assert.equal(registered(CONTAINER, "server-workload-container").inputs.image, ref);
            assert.equal(registered(IMAGE, "server-image-build").inputs.imageName, ref);
            // Each URN names its parent's type: follow the links down from GoApp.
            assert.deepEqual(await typeChain(app.image!), ["dockyard:index:GoApp", "dockyard:image:GoAppImage"]);
            assert.deepEqual(await typeChain(app.image!.image), ["dockyard:image:GoAppImage", IMAGE]);
            assert.deepEqual(await typeChain(app.workload), ["dockyard:index:GoApp", "dockyard:docker:DockerWorkload"]);
            assert.deepEqual(await typeChain(onDocker(app).container), ["dockyard:docker:DockerWorkload", CONTAINER]);
        });

        it("runs a job and surfaces its logs", async () => {
            const app = new GoApp("hello", { appDir: "apps/hello", target: "docker", kind: "job" });
            assert.equal(await known(app.logs), "Hello, World!\n");
            assert.equal(app.endpoint, undefined);
            assert.equal(registered(CONTAINER, "hello-workload-container").inputs.mustRun, false);
        });
    });

    describe("on Kubernetes", () => {
        before(() => useMocks());
        beforeEach(resetRegistrations);

        it("pushes the image and deploys it by digest", async () => {
            const app = new GoApp("server", {
                appDir: "apps/server",
                target: "kubernetes",
                image: { registry: { server: "localhost:5000" } },
                kubernetes: { namespace: "staging", replicas: 2 },
            });
            const ref = await known(app.imageRef);
            assert.match(ref, /^localhost:5000\/server@sha256:[0-9a-f]{64}$/);
            const endpoint = await known(app.endpoint);
            await known(onKubernetes(app).deployment!.urn);
            // The Service is named after the app, so its DNS name survives a replacement.
            assert.equal(endpoint, "server.staging.svc.cluster.local:8080");
            const d = registered(DEPLOYMENT, "server-workload-deployment").inputs;
            assert.equal(d.spec.template.spec.containers[0].image, ref);
            assert.equal(d.spec.template.spec.containers[0].name, "server");
            assert.equal(d.spec.replicas, 2);
        });
    });

    describe("with a prebuilt image", () => {
        before(() => useMocks());
        beforeEach(resetRegistrations);
        const REF = `registry.example.com/server@sha256:${"d".repeat(64)}`;

        it("deploys the digest as given and builds nothing", async () => {
            const app = new GoApp("server", { target: "kubernetes", image: { ref: REF }, kubernetes: { namespace: "prod" } });
            assert.equal(await known(app.imageRef), REF);
            await known(onKubernetes(app).deployment!.urn);
            assert.equal(registered(DEPLOYMENT, "server-workload-deployment").inputs.spec.template.spec.containers[0].image, REF);
            assert.equal(app.image, undefined);
            await settle();
            assert.deepEqual(ofType(IMAGE), []);
            // With no appDir, the app is named after the component.
            assert.equal(await known(app.endpoint), "server.prod.svc.cluster.local:8080");
        });

        it("makes the pods' pull Secret from the registry login", async () => {
            const app = new GoApp("server", { target: "kubernetes", image: { ref: REF, registry: { server: "registry.example.com", username: "ci", password: "pw" } } });
            const secret = onKubernetes(app).pullSecret!;
            const name = await known(secret.metadata.name);
            await known(onKubernetes(app).deployment!.urn);
            assert.deepEqual(registered(DEPLOYMENT, "server-workload-deployment").inputs.spec.template.spec.imagePullSecrets, [{ name }]);
            const data = registered("kubernetes:core/v1:Secret", "server-workload-pull-secret").inputs.stringData;
            assert.ok(isSecretInput(data));
            assert.equal(JSON.parse(unwrap(unwrap(data)[".dockerconfigjson"])).auths["registry.example.com"].password, "pw");
        });

        it("leaves the pull Secret to the user who names one", async () => {
            const app = new GoApp("server", {
                target: "kubernetes",
                image: { ref: REF, registry: { server: "registry.example.com", username: "ci", password: "pw" } },
                kubernetes: { imagePullSecrets: ["corp-pull"] },
            });
            await known(onKubernetes(app).deployment!.urn);
            assert.equal(onKubernetes(app).pullSecret, undefined);
            assert.deepEqual(registered(DEPLOYMENT, "server-workload-deployment").inputs.spec.template.spec.imagePullSecrets, [{ name: "corp-pull" }]);
        });
    });

    describe("with an app it did not grow up with (test/fixtures/greeter: port 9090, no HEALTHCHECK, no health paths, no GO_IMAGE)", () => {
        before(() => useMocks());
        beforeEach(resetRegistrations);
        const GREETER = "test/fixtures/greeter";
        const GREETER_REF = `registry.example.com/greeter@sha256:${"e".repeat(64)}`;

        it("on Docker: waits for running, not health, publishes its port, and says what it could not check", async () => {
            const { value: app, warnings } = warningsDuring(() => new GoApp("greeter", { appDir: GREETER, target: "docker", image: { goImage: "dockyard-local/go:1.26" } }));
            await known(onDocker(app).container.urn);
            const c = registered(CONTAINER, "greeter-workload-container").inputs;
            assert.equal(c.wait, false);
            assert.equal(c.healthcheck, undefined);
            assert.equal(c.mustRun, true);
            assert.equal(app.image!.hasHealthcheck, false);
            assert.deepEqual(app.image!.exposedPorts, [9090]);
            assert.equal(warnings.length, 3, warnings.join("\n"));
            assert.match(warnings.join("\n"), /app "greeter": build arg GO_IMAGE \(from goImage\) is not declared in test\/fixtures\/greeter\/Dockerfile, so the build ignores it/);
            assert.match(warnings.join("\n"), /the Dockerfile EXPOSEs 9090 but port is 8080 \(the default\).*Set port to the one the app listens on/);
            assert.match(warnings.join("\n"), /greeter-workload: the image has no HEALTHCHECK/);
        });

        it("on Docker: port alone wires PORT, the published port and the endpoint", async () => {
            const { value: app, warnings } = warningsDuring(() => new GoApp("greeter", { appDir: GREETER, target: "docker", port: 9090, docker: { hostPort: 18181 } }));
            assert.equal(await known(app.endpoint), "http://127.0.0.1:18181");
            const c = registered(CONTAINER, "greeter-workload-container").inputs;
            assert.deepEqual(c.ports, [{ internal: 9090, external: 18181, ip: "127.0.0.1", protocol: "tcp" }]);
            assert.deepEqual(c.envs, ["PORT=9090"]);
            assert.deepEqual(warnings.filter((w) => /EXPOSE|build arg/.test(w)), []);
        });

        it("on Docker: a caller's health check is run and waited for", async () => {
            const app = new GoApp("greeter", { appDir: GREETER, target: "docker", port: 9090, docker: { healthcheck: { command: ["/greeter", "-check"] } } });
            await known(onDocker(app).container.urn);
            const c = registered(CONTAINER, "greeter-workload-container").inputs;
            assert.equal(c.wait, true);
            assert.deepEqual(c.healthcheck.tests, ["CMD", "/greeter", "-check"]);
        });

        it("on Kubernetes, prebuilt: TCP probes on its port, which it passes without health paths", async () => {
            const app = new GoApp("greeter", { target: "kubernetes", port: 9090, image: { ref: GREETER_REF } });
            assert.equal(await known(app.endpoint), "greeter.default.svc.cluster.local:9090");
            await known(onKubernetes(app).deployment!.urn);
            const [c] = registered(DEPLOYMENT, "greeter-workload-deployment").inputs.spec.template.spec.containers;
            assert.deepEqual(c.ports, [{ name: "http", containerPort: 9090, protocol: "TCP" }]);
            assert.deepEqual(c.readinessProbe.tcpSocket, { port: "http" });
            assert.deepEqual(c.livenessProbe.tcpSocket, { port: "http" });
            assert.deepEqual(c.env[0], { name: "PORT", value: "9090" });
        });

        // server's probe paths come from the stack files: test/unit/stacks.test.ts checks them there.
        it("keeps this project's server waiting for its HEALTHCHECK on Docker, without a warning", async () => {
            const { value: app, warnings } = warningsDuring(() => new GoApp("server", { appDir: "apps/server", target: "docker" }));
            await known(onDocker(app).container.urn);
            assert.equal(registered(CONTAINER, "server-workload-container").inputs.wait, true);
            assert.deepEqual(warnings, []);
        });
    });

    describe("in preview", () => {
        before(() => useMocks({ preview: true }));
        after(() => useMocks());
        beforeEach(resetRegistrations);

        it("registers every child though the image reference is not known yet", async () => {
            const app = new GoApp("server", { appDir: "apps/server", target: "kubernetes", image: { registry: { server: "localhost:5000" } } });
            // The provider reports the local image ID as repoDigest here: never passed on as the image to deploy.
            assert.match(String(await valueOf(app.image!.image.repoDigest)), /^sha256:[0-9a-f]{64}$/);
            assert.equal(await valueOf(app.imageRef), UNKNOWN);
            await known(onKubernetes(app).deployment!.urn);
            await known(onKubernetes(app).service!.urn);
            registered(DEPLOYMENT, "server-workload-deployment");
            registered("kubernetes:core/v1:Service", "server-workload-service");
        });

        it("registers the container on Docker too", async () => {
            const app = new GoApp("web", { appDir: "apps/server", target: "docker" });
            await known(onDocker(app).container.urn);
            registered(CONTAINER, "web-workload-container");
        });
    });
});
