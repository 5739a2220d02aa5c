// components/cli/watchChanges.ts: what `dockyard watch` counts as a change, when it updates, and what it prints.
import type * as automation from "@pulumi/pulumi/automation";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { contentTag } from "../../components/internal/contentTag";
import { UpdateQueue, appLine, buildFiles, changes, engineErrors, firstAnswer, isEmpty, shortImage, sourcesOf, stepsByApp, takeState } from "../../components/cli/watchChanges";

const repoRoot = path.resolve(__dirname, "..", "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("watch: sources and changes", () => {
    let root: string;
    const write = (file: string, text: string) => fs.writeFileSync(path.join(root, file), text);
    const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");
    const state = () => takeState(root, sourcesOf(root, "dev", ["components"]));

    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-watch-"));
        for (const f of ["apps", "components", "Pulumi.yaml", "Pulumi.dev.yaml", "compose.ts", "index.ts"]) {
            fs.cpSync(path.join(repoRoot, f), path.join(root, f), { recursive: true, filter: (src) => !/[/\\](bin|node_modules)$/.test(src) });
        }
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("takes the apps and their folder from the stack's config, the program's files from the project, and the packages named", () => {
        const sources = sourcesOf(root, "dev", ["components"]);
        assert.deepEqual(sources.apps, { hello: path.join("apps", "hello"), server: path.join("apps", "server") });
        assert.deepEqual(sources.program, ["Pulumi.dev.yaml", "Pulumi.yaml", "compose.ts", "index.ts"]);
        assert.ok(sources.packages.includes("components/goAppImage.ts") && sources.packages.includes("components/internal/contentTag.ts"));
        assert.ok(sources.packages.every((f) => !f.startsWith("components/bin/")));
        assert.deepEqual(sourcesOf(root, "dev").packages, [], "no package unless named");
        write("Pulumi.dev.yaml", read("Pulumi.dev.yaml").replace("config:\n", "config:\n  dockyard:appsDir: services\n"));
        assert.deepEqual(sourcesOf(root, "dev").apps, { hello: path.join("services", "hello"), server: path.join("services", "server") });
    });

    it("reads what the build sends: the .dockerignore honoured, the Dockerfile always", () => {
        const files = buildFiles(path.join(root, "apps", "server"));
        assert.deepEqual(files, ["Dockerfile", "drain.go", "go.mod", "go.sum", "main.go", "observe.go", "server.go"]);
    });

    it("a test file, which .dockerignore leaves out, changes nothing; a source file changes its app alone", () => {
        const before = state();
        fs.appendFileSync(path.join(root, "apps", "server", "server_test.go"), "\n// edited\n");
        assert.ok(isEmpty(changes(before, state())));
        fs.appendFileSync(path.join(root, "apps", "server", "server.go"), "\n// edited\n");
        assert.deepEqual(changes(before, state()), { apps: { server: ["server.go"] }, program: [], packages: [] });
    });

    it("counts a change exactly when the image's content tag changes", () => {
        const tag = () => contentTag({ context: path.join(root, "apps", "server"), dockerfile: path.join(root, "apps", "server", "Dockerfile"), buildArgs: {} });
        const edits: [string, (text: string) => string][] = [
            ["apps/server/main_test.go", (t) => t + "\n"],
            ["apps/server/Dockerfile", (t) => t + "\n# a comment\n"],
            ["apps/server/.dockerignore", (t) => t.replace("**/*_test.go\n", "")],
            ["apps/server/.dockerignore", (t) => t + "\n# nothing new ignored\n"],
        ];
        const seen = edits.map(([file, edit]) => {
            const [before, tagBefore] = [state(), tag()];
            write(file, edit(read(file)));
            const changed = !isEmpty(changes(before, state()));
            assert.equal(changed, tag() !== tagBefore, `${file}: a change is seen exactly when the tag changes`);
            return changed;
        });
        assert.deepEqual(seen, [false, true, true, false]);
        // The .dockerignore that stopped ignoring tests sends them: they are the change.
        const before = state();
        write("apps/server/.dockerignore", read("apps/server/.dockerignore") + "**/*_test.go\n");
        assert.deepEqual(changes(before, state()).apps, { server: ["main_test.go", "observe_test.go", "server_test.go"] });
    });

    it("names removed and added files, program files, packages and the stack's config", () => {
        const before = state();
        fs.rmSync(path.join(root, "apps", "server", "drain.go"));
        write("apps/hello/extra.go", "package main\n");
        write("compose.ts", read("compose.ts") + "\n");
        write("Pulumi.dev.yaml", read("Pulumi.dev.yaml") + "\n# edited\n");
        write("components/goApp.ts", read("components/goApp.ts") + "\n");
        fs.mkdirSync(path.join(root, "components", "bin"), { recursive: true });
        write("components/bin/goApp.js", "built output is not a source\n");
        assert.deepEqual(changes(before, state()), {
            apps: { hello: ["extra.go"], server: ["drain.go"] },
            program: ["Pulumi.dev.yaml", "compose.ts"],
            packages: ["components/goApp.ts"],
        });
    });
});

describe("watch: UpdateQueue", () => {
    const unexpected = (e: unknown) => assert.fail(`an update threw: ${String(e)}`);
    it("runs one update for a burst, after the quiet period", async () => {
        const runs: number[] = [];
        const queue = new UpdateQueue(async (burstStart) => void runs.push(burstStart), 40, unexpected);
        const first = Date.now();
        for (let i = 0; i < 5; i++) {
            queue.notify();
            await sleep(10);
        }
        await sleep(20);
        assert.equal(runs.length, 0, "none during the burst");
        await queue.idle();
        assert.equal(runs.length, 1);
        assert.ok(runs[0] >= first && runs[0] - first < 10, "timed from the burst's first save");
    });

    it("never runs two at once: saves during an update queue exactly one more", async () => {
        let running = 0;
        let most = 0;
        const runs: number[] = [];
        const queue = new UpdateQueue(async (burstStart) => {
            running++;
            most = Math.max(most, running);
            runs.push(burstStart);
            await sleep(100);
            running--;
        }, 20, unexpected);
        queue.notify();
        await sleep(50);
        assert.ok(queue.running);
        const during = Date.now();
        for (let i = 0; i < 3; i++) queue.notify();
        await queue.idle();
        assert.equal(runs.length, 2);
        assert.equal(most, 1);
        assert.ok(runs[1] >= during, "the queued one is timed from the first save during the update");
    });

    it("starts nothing after stop; a failed update is reported and does not stop the next", async () => {
        let runs = 0;
        const errors: string[] = [];
        const queue = new UpdateQueue(
            async () => {
                runs++;
                throw new Error(`failure ${runs}`);
            },
            10,
            (e) => errors.push((e as Error).message),
        );
        queue.notify();
        await queue.idle();
        queue.notify();
        await queue.idle();
        assert.equal(runs, 2);
        queue.notify();
        queue.stop();
        await queue.idle();
        await sleep(30);
        assert.equal(runs, 2);
        assert.deepEqual(errors, ["failure 1", "failure 2"]);
    });
});

describe("watch: engine events and lines", () => {
    const urn = (chain: string, name: string) => `urn:pulumi:dev::dockyard::${chain}::${name}`;
    const app = urn("dockyard:index:GoApp", "server");
    const image = urn("dockyard:index:GoApp$dockyard:index:GoAppImage", "server-image");
    const built = urn("dockyard:index:GoApp$dockyard:index:GoAppImage$docker:index/image:Image", "server-image");
    const container = urn("dockyard:index:GoApp$dockyard:docker:DockerWorkload$docker:index/container:Container", "server-workload");
    const workload = urn("dockyard:index:GoApp$dockyard:docker:DockerWorkload", "server-workload");
    const stackUrn = urn("pulumi:pulumi:Stack", "dockyard-dev");
    const step = (u: string, op: string, parent?: string): automation.EngineEvent =>
        ({ sequence: 0, timestamp: 0, resourcePreEvent: { metadata: { op, urn: u, type: "", provider: "", new: { parent } } } }) as unknown as automation.EngineEvent;

    it("puts each step that changed something under the app whose GoApp it sits in", () => {
        const events = [
            step(stackUrn, "same"),
            step(app, "same", stackUrn),
            step(image, "same", app),
            step(built, "update", image),
            step(workload, "same", app),
            step(container, "replace", workload),
            step(urn("pulumi:providers:docker", "default"), "create"),
        ];
        assert.deepEqual(
            [...stepsByApp(events)],
            [
                ["server", ["update docker:index/image:Image", "replace docker:index/container:Container"]],
                ["", ["create pulumi:providers:docker"]],
            ],
        );
        assert.deepEqual([...stepsByApp([step(built, "same", image)])], []);
    });

    it("prints one line per app: what changed, the image, how long, the first answer", () => {
        assert.equal(
            appLine({ app: "server", changed: ["server.go"], seconds: 3.14, imageRef: "dockyard/server:sha-5ccfc19cc788f6305124", endpoint: "http://127.0.0.1:8080", answer: 'answers 200 "Hello, World! Counter: 1"' }),
            'server: server.go changed → sha-5ccfc19cc788f6305124 in 3.1 s; http://127.0.0.1:8080 answers 200 "Hello, World! Counter: 1"',
        );
        assert.equal(
            appLine({ app: "hello", changed: [], what: "deployed", seconds: 2, imageRef: "reg:5000/hello@sha256:0123456789abcdef0123", answer: "Hello, World!\n" }),
            'hello: deployed → sha256:0123456789ab in 2.0 s; printed "Hello, World!"',
        );
        assert.equal(appLine({ app: "server", changed: ["a.go", "b.go", "c.go", "d.go"], seconds: 1 }), "server: 4 files changed in 1.0 s");
        assert.equal(appLine({ app: "server", changed: [], seconds: 1, imageRef: "server" }), "server: redeployed → server in 1.0 s");
        assert.equal(shortImage("localhost:5000/server:sha-1"), "sha-1");
    });

    it("keeps the error diagnostics of a failed update, without the engine's framing", () => {
        const diag = (severity: string, message: string) => ({ sequence: 0, timestamp: 0, diagnosticEvent: { severity, message, color: "never" } }) as automation.EngineEvent;
        assert.deepEqual(engineErrors([diag("info", "building"), diag("error", "  build failed: exit code 1\n"), diag("error", "update failed")]), ["build failed: exit code 1"]);
    });
});

describe("watch: the endpoint's first answer", () => {
    const servers: net.Server[] = [];
    const sockets: net.Socket[] = [];
    /** A loopback server of the given kind; resolves to its URL. */
    async function serve(server: net.Server): Promise<string> {
        servers.push(server);
        server.on("connection", (s: net.Socket) => sockets.push(s));
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    }
    afterEach(async () => {
        for (const s of sockets.splice(0)) s.destroy();
        await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    });

    it("takes any HTTP status as up, and says it with the body", async () => {
        const ok = await serve(http.createServer((_q, r) => r.end("Hello, World! Counter: 1\n")));
        const missing = await serve(http.createServer((_q, r) => { r.statusCode = 404; r.end("404 page not found\n"); }));
        const login = await serve(http.createServer((_q, r) => { r.statusCode = 401; r.end(); }));
        assert.equal(await firstAnswer(ok, 5000), 'answers 200 "Hello, World! Counter: 1"');
        assert.equal(await firstAnswer(missing, 5000), 'answers 404 "404 page not found"');
        assert.equal(await firstAnswer(login, 5000), 'answers 401 ""');
    });

    it("says at once that a port speaks no HTTP, instead of waiting out the bound", async () => {
        const garbage = await serve(net.createServer((c) => c.end("SSH-2.0-not-http\r\n")));
        const silent = await serve(net.createServer(() => undefined));
        // A bound far above what either takes: the answer must come from the connection, not the deadline.
        assert.equal(await firstAnswer(garbage, 60_000), "accepts connections but answers no HTTP");
        assert.equal(await firstAnswer(silent, 60_000), "accepts connections but answers no HTTP");
    });

    it("retries while nothing listens, then answers what starts listening, or gives up at the bound", async () => {
        const port = await new Promise<number>((resolve) => {
            const probe = net.createServer().listen(0, "127.0.0.1", () => {
                const { port } = probe.address() as net.AddressInfo;
                probe.close(() => resolve(port));
            });
        });
        assert.equal(await firstAnswer(`http://127.0.0.1:${port}/`, 1000), "did not answer within 1 s");
        const later = http.createServer((_q, r) => r.end("late\n"));
        servers.push(later);
        later.on("connection", (s: net.Socket) => sockets.push(s));
        setTimeout(() => later.listen(port, "127.0.0.1"), 400);
        assert.equal(await firstAnswer(`http://127.0.0.1:${port}/`, 10_000), 'answers 200 "late"');
    });
});
