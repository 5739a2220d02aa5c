import { strict as assert } from "assert";
import { DockerWorkload } from "../../components/dockerWorkload";
import { jobOutcome, known, optionsRecorder, registered, resetRegistrations, typeChain, useMocks, warningsDuring } from "../support/mocks";

const CONTAINER = "docker:index/container:Container";
const IMAGE_REF = "dockyard/server:sha-0123456789abcdef0123";

describe("DockerWorkload", () => {
    before(() => useMocks());
    beforeEach(resetRegistrations);

    describe("a service, by default", () => {
        it("runs hardened, publishes on loopback, and waits for running (no health check is known)", async () => {
            const w = new DockerWorkload("web", { image: IMAGE_REF });
            assert.equal(await known(w.url), "http://127.0.0.1:49153");
            const c = registered(CONTAINER, "web-container").inputs;
            assert.equal(c.image, IMAGE_REF);
            assert.deepEqual(c.ports, [{ internal: 8080, ip: "127.0.0.1", protocol: "tcp" }]);
            assert.deepEqual(c.envs, ["PORT=8080"]);
            assert.equal(c.user, "65532:65532");
            assert.equal(c.readOnly, true);
            assert.deepEqual(c.capabilities, { drops: ["ALL"], adds: [] });
            assert.deepEqual(c.securityOpts, ["no-new-privileges:true"]);
            assert.equal(c.memory, 128);
            assert.equal(c.memorySwap, 128, "swap is capped at the memory limit, and no drift is left for the engine to fill in");
            assert.equal(c.cpus, "0.5");
            assert.equal(c.restart, "unless-stopped");
            assert.equal(c.mustRun, true);
            assert.equal(c.wait, false, "the provider refuses to wait for the health of a container without a health check");
            assert.equal(c.healthcheck, undefined);
            assert.equal(c.stopTimeout, 15);
            assert.equal(c.attach, undefined);
            assert.deepEqual(await typeChain(w.container), ["dockyard:docker:DockerWorkload", CONTAINER]);
        });

        it("lets the engine pick the host port, so replacement can create before deleting", async () => {
            const rec = optionsRecorder();
            const w = new DockerWorkload("ephemeral", { image: IMAGE_REF }, { transformations: rec.transformations });
            await known(w.container.urn);
            assert.equal(rec.options.get("ephemeral-container")?.deleteBeforeReplace, false);
        });
    });

    describe("health", () => {
        it("says once, as a warning, that nothing checks the app answers, and how to add a check", () => {
            const { warnings } = warningsDuring(() => new DockerWorkload("plain", { image: IMAGE_REF }));
            assert.equal(warnings.length, 1, warnings.join("\n"));
            assert.match(warnings[0], /plain: the image has no HEALTHCHECK, so `pulumi up` waits only for the container to be running/);
            assert.match(warnings[0], /Add a HEALTHCHECK to the Dockerfile's final stage.*or pass healthcheck: \{ command: \[\.\.\.\] \}/);
        });

        it("waits for the image's own HEALTHCHECK, without a warning", async () => {
            const { value: w, warnings } = warningsDuring(() => new DockerWorkload("checked", { image: IMAGE_REF, imageHealthcheck: true }));
            await known(w.container.urn);
            const c = registered(CONTAINER, "checked-container").inputs;
            assert.equal(c.wait, true);
            assert.equal(c.waitTimeout, 60);
            assert.equal(c.healthcheck, undefined, "the image's own check is left as it is");
            assert.deepEqual(warnings, []);
        });

        it("runs the caller's health check, exec form, with the defaults filled in, and waits for it", async () => {
            const w = new DockerWorkload("probed", { image: IMAGE_REF, healthcheck: { command: ["/greeter", "-check"], retries: 5, startPeriodSeconds: 10 } });
            await known(w.container.urn);
            const c = registered(CONTAINER, "probed-container").inputs;
            assert.deepEqual(c.healthcheck, { tests: ["CMD", "/greeter", "-check"], interval: "5s", timeout: "3s", retries: 5, startPeriod: "10s" });
            assert.equal(c.wait, true);
        });

        it("keeps quiet and does not wait when waitForHealthy is false", async () => {
            const { value: w, warnings } = warningsDuring(() => new DockerWorkload("unwatched", { image: IMAGE_REF, imageHealthcheck: true, waitForHealthy: false }));
            await known(w.container.urn);
            assert.equal(registered(CONTAINER, "unwatched-container").inputs.wait, false);
            assert.deepEqual(warnings, []);
        });

        it("neither checks nor warns for a job", () => {
            const { warnings } = warningsDuring(() => new DockerWorkload("once", { image: IMAGE_REF, kind: "job" }));
            assert.deepEqual(warnings, []);
        });
    });

    it("deletes before replacing when it holds a fixed host port", async () => {
        const rec = optionsRecorder();
        const w = new DockerWorkload("fixed", { image: IMAGE_REF, port: 9090, hostPort: 8080 }, { transformations: rec.transformations });
        assert.equal(await known(w.url), "http://127.0.0.1:8080");
        assert.deepEqual(registered(CONTAINER, "fixed-container").inputs.ports, [{ internal: 9090, external: 8080, ip: "127.0.0.1", protocol: "tcp" }]);
        assert.deepEqual(registered(CONTAINER, "fixed-container").inputs.envs, ["PORT=9090"]);
        assert.equal(rec.options.get("fixed-container")?.deleteBeforeReplace, true);
    });

    it("deletes before replacing when it has a fixed name", async () => {
        const rec = optionsRecorder();
        const w = new DockerWorkload("named", { image: IMAGE_REF, containerName: "dockyard-server" }, { transformations: rec.transformations });
        await known(w.container.urn);
        assert.equal(registered(CONTAINER, "named-container").inputs.name, "dockyard-server");
        assert.equal(rec.options.get("named-container")?.deleteBeforeReplace, true);
    });

    it("labels the container with its stack and project folder (what recover finds it by), the image and the commit it was built from", async () => {
        const w = new DockerWorkload("traced", { image: IMAGE_REF, sourceCommit: "0123abc" });
        await known(w.container.urn);
        assert.deepEqual(registered("docker:index/container:Container", "traced-container").inputs.labels, [
            { label: "dockyard.dev/stack", value: "dockyard/test" },
            { label: "dockyard.dev/project-dir", value: process.cwd() },
            { label: "dockyard.dev/image", value: IMAGE_REF },
            { label: "dockyard.dev/source-commit", value: "0123abc" },
        ]);
    });

    it("applies limits, env, args, labels and an explicit host IP", async () => {
        const w = new DockerWorkload("tuned", {
            image: IMAGE_REF,
            hostIp: "0.0.0.0",
            limits: { cpu: "250m", memory: "1Gi" },
            env: { LOG_LEVEL: "debug" },
            args: ["-v"],
            labels: { team: "edge" },
            stopTimeoutSeconds: 30,
            healthTimeoutSeconds: 90,
        });
        assert.equal(await known(w.url), "http://0.0.0.0:49153");
        const c = registered(CONTAINER, "tuned-container").inputs;
        assert.equal(c.cpus, "0.25");
        assert.equal(c.memory, 1024);
        assert.equal(c.memorySwap, 1024);
        assert.deepEqual(c.envs, ["PORT=8080", "LOG_LEVEL=debug"]);
        assert.deepEqual(c.command, ["-v"]);
        // Whose it is, the caller's labels, then what runs: the image it was started from.
        assert.deepEqual(c.labels, [
            { label: "dockyard.dev/stack", value: "dockyard/test" },
            { label: "dockyard.dev/project-dir", value: process.cwd() },
            { label: "team", value: "edge" },
            { label: "dockyard.dev/image", value: IMAGE_REF },
        ]);
        assert.equal(c.stopTimeout, 30);
        assert.equal(c.destroyGraceSeconds, 30);
        assert.equal(c.waitTimeout, 90);
    });

    it("loosens security only where asked", async () => {
        const w = new DockerWorkload("loose", {
            image: IMAGE_REF,
            user: "1000:1000",
            readOnlyRootFilesystem: false,
            addCapabilities: ["NET_BIND_SERVICE"],
            tmpfs: { "/tmp": "rw,noexec,nosuid,size=16m" },
        });
        await known(w.container.urn);
        const c = registered(CONTAINER, "loose-container").inputs;
        assert.equal(c.user, "1000:1000");
        assert.equal(c.readOnly, false);
        assert.deepEqual(c.capabilities, { drops: ["ALL"], adds: ["NET_BIND_SERVICE"] });
        assert.deepEqual(c.tmpfs, { "/tmp": "rw,noexec,nosuid,size=16m" });
        assert.deepEqual(c.securityOpts, ["no-new-privileges:true"]);
    });

    it("creates its own network when asked and joins it", async () => {
        const w = new DockerWorkload("netted", { image: IMAGE_REF, createNetwork: true });
        assert.ok(w.network);
        const networkName = await known(w.network.name);
        await known(w.container.urn);
        assert.equal(registered("docker:index/network:Network", "netted-network").inputs.driver, "bridge");
        assert.deepEqual(registered(CONTAINER, "netted-container").inputs.networksAdvanced, [{ name: networkName }]);
        assert.deepEqual(await typeChain(w.network), ["dockyard:docker:DockerWorkload", "docker:index/network:Network"]);
    });

    describe("a job", () => {
        it("runs to completion with mustRun off, and returns its logs", async () => {
            const w = new DockerWorkload("once", { image: "dockyard/hello:sha-00000000000000000000", kind: "job" });
            assert.equal(await known(w.logs), "Hello, World!\n");
            assert.equal(await known(w.exitCode), 0);
            assert.equal(w.url, undefined);
            const c = registered(CONTAINER, "once-container").inputs;
            assert.equal(c.mustRun, false, "the provider deletes a stopped container while mustRun is on");
            assert.equal(c.attach, true);
            assert.equal(c.logs, true);
            assert.equal(c.restart, "no");
            assert.equal(c.ports, undefined);
            assert.equal(c.wait, undefined);
            assert.deepEqual(c.envs, []);
            assert.equal(c.readOnly, true);
        });

        it("fails the update when the job exits non-zero, showing its output", async () => {
            jobOutcome.exitCode = 3;
            jobOutcome.logs = "boom\n";
            const w = new DockerWorkload("broken", { image: "dockyard/hello:sha-00000000000000000000", kind: "job" });
            await assert.rejects(known(w.exitCode), /job broken exited with code 3; its output:\nboom/);
        });
    });
});
