// The apps' Dockerfiles, built unchanged and run on a real engine.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { readDockerfile } from "../../components/internal/dockerfile";
import { Janitor, appsDir, buildApp, docker, dockerOk, ensureEngine, ensureGoBaseImage, ensureGreeterBase, greeterDir, httpGet as get, startRegistry, uniqueName, waitUntil } from "../support/docker";

const NON_ROOT = "65532:65532";

async function inspect(container: string, format: string): Promise<string> {
    return (await dockerOk(["inspect", "-f", format, container])).trim();
}

/** The UID the kernel reports for the container's main process. */
async function processUid(container: string): Promise<number> {
    const pid = await inspect(container, "{{.State.Pid}}");
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const uid = /^Uid:\s+(\d+)/m.exec(status);
    assert.ok(uid, `no Uid line in /proc/${pid}/status`);
    return Number(uid[1]);
}

describe("apps on a real Docker engine", function () {
    this.timeout(300_000);
    const janitor = new Janitor();
    const helloImage = janitor.image(`${uniqueName("dockyard-test/hello")}:test`);
    const serverImage = janitor.image(`${uniqueName("dockyard-test/server")}:test`);
    const greeterImage = janitor.image(`${uniqueName("dockyard-test/greeter")}:test`);

    before(async () => {
        await ensureEngine();
        const goImage = await ensureGoBaseImage(janitor);
        await buildApp("hello", helloImage, goImage);
        await buildApp("server", serverImage, goImage);
        await ensureGreeterBase(janitor, goImage);
        // As its owner builds it: no build args.
        await dockerOk(["build", "--quiet", "-t", greeterImage, greeterDir]);
    });

    after(() => janitor.clean());

    it("hello prints its greeting and exits 0 as a non-root user", async () => {
        const name = janitor.container(uniqueName("dockyard-hello"));
        const r = await docker(["run", "--name", name, "--read-only", "--cap-drop", "ALL", helloImage]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "Hello, World!\n");
        assert.equal(await inspect(name, "{{.Config.User}}"), NON_ROOT);
        assert.equal(await inspect(name, "{{.State.ExitCode}}"), "0");
    });

    it("images carry no shell: the runtime stage holds only the binary", async () => {
        const name = janitor.container(uniqueName("dockyard-noshell"));
        const r = await docker(["run", "--name", name, "--entrypoint", "/bin/sh", serverImage, "-c", "true"]);
        assert.notEqual(r.code, 0, "a shell ran inside the server image");
        const layers = JSON.parse(await dockerOk(["image", "inspect", "-f", "{{json .RootFS.Layers}}", serverImage]));
        assert.equal(layers.length, 1, `runtime image has ${layers.length} layers, want the binary's one`);
    });

    it("pushes to a registry and runs again from its digest alone", async () => {
        const registry = await startRegistry();
        try {
            const repo = `${registry.host}/dockyard/server`;
            const pushed = janitor.image(`${repo}:${uniqueName("push")}`);
            await dockerOk(["tag", serverImage, pushed]);
            // The digest this registry holds, as its push reports it: on a used engine the image's RepoDigests
            // may also name other registries it was pushed to.
            const digest = /digest: (sha256:[0-9a-f]{64})/.exec(await dockerOk(["push", pushed]))?.[1];
            const digestRef = `${repo}@${digest}`;
            assert.match(digestRef, new RegExp(`^${repo.replace(/\./g, "\\.")}@sha256:[0-9a-f]{64}$`));
            // Forget every local name for it: the run below can only come from the registry.
            await dockerOk(["rmi", pushed]);
            const name = janitor.container(uniqueName("dockyard-bydigest"));
            await dockerOk(["pull", digestRef]);
            janitor.image(digestRef);
            await dockerOk(["run", "-d", "--name", name, "-p", "127.0.0.1::8080", "--read-only", "--cap-drop", "ALL", digestRef]);
            const url = `http://${(await dockerOk(["port", name, "8080/tcp"])).trim().split("\n")[0]}/`;
            const first = await waitUntil("the pulled server to answer", 20_000, async () => (await get(url).catch(() => undefined))?.body);
            assert.equal(first, "Hello, World! Counter: 1\n");
            assert.equal(await inspect(name, "{{.Config.Image}}"), digestRef);
        } finally {
            registry.stop();
        }
    });

    it("has the HEALTHCHECK and ports the components read from each Dockerfile, as the engine built them", async () => {
        const built: [string, string][] = [
            [path.join(appsDir, "server", "Dockerfile"), serverImage],
            [path.join(appsDir, "hello", "Dockerfile"), helloImage],
            [path.join(greeterDir, "Dockerfile"), greeterImage],
        ];
        for (const [dockerfile, image] of built) {
            const config = JSON.parse(await dockerOk(["image", "inspect", "-f", "{{json .Config}}", image]));
            const facts = readDockerfile(fs.readFileSync(dockerfile, "utf8"));
            assert.equal(facts.healthcheck, (config.Healthcheck ?? null) !== null, `${dockerfile}: HEALTHCHECK read ${facts.healthcheck}, built ${JSON.stringify(config.Healthcheck)}`);
            const exposed = Object.keys(config.ExposedPorts ?? {}).map((p) => Number(p.split("/")[0])).sort((a, b) => a - b);
            assert.deepEqual(facts.exposedPorts, exposed, dockerfile);
        }
    });

    describe("greeter, an app written outside this project", () => {
        const name = janitor.container(uniqueName("dockyard-greeter"));
        let base = "";

        before(async () => {
            // Run as DockerWorkload runs a service: hardened, PORT from `port`, published on loopback.
            await dockerOk([
                "run", "-d", "--name", name, "--user", NON_ROOT, "-e", "PORT=9090",
                "-p", "127.0.0.1::9090",
                "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                greeterImage,
            ]);
            base = `http://${(await dockerOk(["port", name, "9090/tcp"])).trim().split("\n")[0]}`;
            await waitUntil("greeter to answer", 20_000, async () => ((await get(`${base}/`).catch(() => undefined))?.status === 200 ? true : undefined));
        });

        it("answers on its own port, hardened and non-root", async () => {
            assert.deepEqual(await get(`${base}/`), { status: 200, body: "Hello from greeter\n" });
            assert.equal(await processUid(name), 65532);
        });

        it("serves no health paths: the reason Kubernetes probes default to TCP", async () => {
            assert.equal((await get(`${base}/readyz`)).status, 404);
            assert.equal((await get(`${base}/healthz`)).status, 404);
        });

        it("has no health status for `pulumi up` to wait for", async () => {
            assert.equal(await inspect(name, "{{.State.Health}}"), "<nil>");
            assert.equal(await inspect(name, "{{.State.Running}}"), "true");
        });
    });

    describe("server", () => {
        const name = janitor.container(uniqueName("dockyard-server"));
        let base = "";

        before(async () => {
            await dockerOk([
                "run", "-d", "--name", name,
                "-p", "127.0.0.1::8080",
                "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                serverImage,
            ]);
            const mapping = (await dockerOk(["port", name, "8080/tcp"])).trim().split("\n")[0];
            base = `http://${mapping}`;
            await waitUntil("the server to answer", 20_000, async () => (await get(`${base}/readyz`).catch(() => undefined))?.status === 200 || undefined);
        });

        it("counts requests to / from 1", async () => {
            for (const n of [1, 2, 3]) {
                assert.deepEqual(await get(`${base}/`), { status: 200, body: `Hello, World! Counter: ${n}\n` });
            }
        });

        it("answers liveness and readiness without counting them", async () => {
            assert.equal((await get(`${base}/healthz`)).status, 200);
            assert.equal((await get(`${base}/readyz`)).status, 200);
            assert.equal((await get(`${base}/`)).body, "Hello, World! Counter: 4\n");
        });

        it("runs as a non-root UID", async () => {
            assert.equal(await inspect(name, "{{.Config.User}}"), NON_ROOT);
            assert.equal(await processUid(name), 65532);
        });

        it("reports healthy through the image's HEALTHCHECK", async () => {
            const test = JSON.parse(await inspect(name, "{{json .Config.Healthcheck.Test}}"));
            assert.deepEqual(test, ["CMD", "/server", "-healthcheck"]);
            await waitUntil("the container to turn healthy", 60_000, async () => {
                const status = await inspect(name, "{{.State.Health.Status}}");
                assert.notEqual(status, "unhealthy");
                return status === "healthy" || undefined;
            });
        });

        it("exits 0 on docker stop, well inside the grace period", async () => {
            const grace = 10;
            const started = Date.now();
            await dockerOk(["stop", "-t", String(grace), name]);
            const seconds = (Date.now() - started) / 1000;
            assert.equal(await inspect(name, "{{.State.ExitCode}}"), "0");
            assert.ok(seconds < grace / 2, `stop took ${seconds}s of a ${grace}s grace period`);
            const logs = await dockerOk(["logs", name]);
            assert.match(logs, /"msg":"stopped"/);
        });
    });
});
