// `dockyard watch`'s loop (components/cli/watch.ts) with the real Pulumi engine on a file backend, the real file
// system, the real Go compiler and recover's recovery. The dev stack's own resources need the Docker provider,
// which no Go module serves (REAL-ENGINES.md), so the program here stands in for compose.ts: one GoApp
// component per app, whose `imageRef` carries the content tag its image would get, and which fails as the
// image build would when the app does not compile. The saves, bursts, queue, engine updates, locks, Ctrl-C
// and recovery are the real ones; the dev stack itself is checked by hand (docs/dev-loop.md, bench/README.md).
import * as pulumi from "@pulumi/pulumi";
import type * as automation from "@pulumi/pulumi/automation";
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { contentTag } from "../../components/internal/contentTag";
import type { Watch } from "../../components/cli/watch";
import { startWatch } from "../../components/cli/watch";
import { sourcesOf } from "../../components/cli/watchChanges";
import { dockerCli, ensureEngine, repoRoot, waitUntil } from "../support/docker";
import { engineDir } from "../support/engine";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Registers as GoApp does, so watch:dev puts the update's steps under the app's name. */
class StandInApp extends pulumi.ComponentResource {
    constructor(name: string, imageRef: string) {
        super("dockyard:index:GoApp", name);
        this.registerOutputs({ imageRef });
    }
}

describe("watch:dev's loop on the real engine", function () {
    this.timeout(5 * 60_000);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-watch-"));
    const saved = { ...process.env };
    const lines: string[] = [];
    /** How long the stand-in program's next runs take, whether one runs, and a way to end the one that waits. */
    const control = { delayMs: 0, running: false, cancelled: false };
    let watch: Watch | undefined;
    const built = new Set<string>();

    /** The stand-in for compose.ts: what an image build reads and whether it compiles, per app of the stack. */
    const standIn = (): automation.PulumiFn => async () => {
        control.running = true;
        try {
            const apps: Record<string, { imageRef: string }> = {};
            for (const [name, dir] of Object.entries(sourcesOf(root, "dev").apps)) {
                const context = path.join(root, dir);
                const imageRef = `dockyard/${name}:${tagOf(name)}`;
                // Compiled once per content, as the build cache would.
                if (!built.has(imageRef)) {
                    execFileSync("go", ["build", "-o", os.devNull, "./..."], { cwd: context, stdio: "pipe", env: { ...process.env, CGO_ENABLED: "0" } });
                    built.add(imageRef);
                }
                new StandInApp(name, imageRef);
                apps[name] = { imageRef };
            }
            for (const until = Date.now() + control.delayMs; Date.now() < until && !control.cancelled; ) await sleep(50);
            return { apps };
        } finally {
            control.running = false;
        }
    };
    const tagOf = (app: string) => {
        const context = path.join(root, "apps", app);
        return contentTag({ context, dockerfile: path.join(context, "Dockerfile"), buildArgs: {} });
    };

    const pulumiCli = (args: string[]) => execFileSync("pulumi", [...args, "--stack", "dev"], { cwd: root, encoding: "utf8" });
    /** The stack's updates, newest first; recover's refreshes (a watch's start runs one) left out. */
    const history = (): { result: string }[] => JSON.parse(pulumiCli(["stack", "history", "--json"])).filter((u: { kind: string }) => u.kind === "update");
    const deployedTag = (app: string): string => JSON.parse(pulumiCli(["stack", "output", "apps", "--json"]))[app].imageRef.split(":").pop();
    const serverGo = path.join(root, "apps", "server", "server.go");
    let edits = 0;
    /** One line of server.go changed, as a save does; each call writes different bytes. */
    const editServer = () => {
        const text = fs.readFileSync(serverGo, "utf8").replace(/body := make\(\[\]byte, 0, \d+\)/, `body := make([]byte, 0, ${100 + ++edits})`);
        fs.writeFileSync(serverGo, text);
    };
    const lineAfter = (from: number, pattern: RegExp) =>
        waitUntil(`a line matching ${pattern}`, 60_000, async () => lines.slice(from).find((l) => pattern.test(l)));
    const start = async () => {
        watch = await startWatch({ root, stack: "dev", loadProgram: standIn, log: (l) => lines.push(l), quietMs: 100, forwardInterrupt: true });
        return watch;
    };

    before(async function () {
        await ensureEngine();
        fs.cpSync(path.join(repoRoot, "apps"), path.join(root, "apps"), { recursive: true });
        fs.copyFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), path.join(root, "Pulumi.dev.yaml"));
        // The project's own backend and refresh option; the refresh stays off in watch:dev's updates.
        fs.writeFileSync(path.join(root, "Pulumi.yaml"), "name: dockyard\nruntime: nodejs\nbackend:\n  url: file://./.pulumi-state\noptions:\n  refresh: always\n");
        fs.mkdirSync(path.join(root, ".pulumi-state"));
        Object.assign(process.env, {
            PATH: `${engineDir("pulumi.sh")}:${process.env.PATH}`,
            PULUMI_HOME: path.join(root, ".pulumi-home"),
            PULUMI_CONFIG_PASSPHRASE: "",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            DOCKER: dockerCli(),
        });
        delete process.env.PULUMI_BACKEND_URL;
    });

    after(async () => {
        watch?.interrupt();
        await watch?.done;
        process.env = saved;
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("deploys at start, then after a save with no command typed: one line per changed app", async () => {
        await start();
        await lineAfter(0, /^hello: deployed → sha-[0-9a-f]{20} in \d+\.\d s$/);
        await lineAfter(0, /^server: deployed → sha-[0-9a-f]{20} in \d+\.\d s$/);
        await watch!.idle();
        assert.equal(history().length, 1);
        const from = lines.length;
        editServer();
        const line = await lineAfter(from, /^server: /);
        assert.match(line, new RegExp(`^server: server\\.go changed → ${tagOf("server")} in \\d+\\.\\d s$`));
        await watch!.idle();
        assert.deepEqual(lines.slice(from), [line], "hello did not change, so no line for it");
        assert.deepEqual(history().map((u) => u.result), ["succeeded", "succeeded"]);
        assert.equal(deployedTag("server"), tagOf("server"));
    });

    it("a burst of saves gives one update, of the last content", async () => {
        const before = history().length;
        for (let i = 0; i < 5; i++) {
            editServer();
            await sleep(20);
        }
        await sleep(300);
        await watch!.idle();
        assert.equal(history().length, before + 1);
        assert.equal(deployedTag("server"), tagOf("server"));
    });

    it("a save the build does not read (a test file, left out by .dockerignore) starts nothing", async () => {
        const before = history().length;
        const from = lines.length;
        fs.appendFileSync(path.join(root, "apps", "server", "server_test.go"), "\n// edited\n");
        await sleep(1000);
        await watch!.idle();
        assert.equal(history().length, before);
        assert.deepEqual(lines.slice(from), []);
    });

    it("never two updates at once: saves during one queue exactly one more", async () => {
        const before = history().length;
        control.delayMs = 3000;
        editServer();
        await waitUntil("the update to run the program", 30_000, async () => control.running || undefined);
        editServer();
        await sleep(50);
        editServer();
        control.delayMs = 0;
        await sleep(3000);
        await watch!.idle();
        assert.deepEqual(
            history()
                .slice(0, 2)
                .map((u) => u.result),
            ["succeeded", "succeeded"],
        );
        assert.equal(history().length, before + 2);
        assert.equal(deployedTag("server"), tagOf("server"));
    });

    it("a change that does not compile names the file, line and column, and leaves what is deployed", async () => {
        const deployed = deployedTag("server");
        const from = lines.length;
        const good = fs.readFileSync(serverGo, "utf8");
        const at = good.split("\n").findIndex((l) => /body := make\(\[\]byte, 0, \d+\)/.test(l));
        fs.writeFileSync(serverGo, good.replace(/body := make\(\[\]byte, 0, \d+\)/, 'body := make([]byte, 0, "x")'));
        const failed = await lineAfter(from, /^not deployed/);
        assert.match(failed, new RegExp(`apps/server does not compile:\\n# \\S+\\n\\./server\\.go:${at + 1}:\\d+: cannot (use|convert) "x"`));
        await watch!.idle();
        assert.equal(history()[0].result, "failed");
        assert.equal(deployedTag("server"), deployed, "the last good build stays deployed");
        // The next good save deploys.
        fs.writeFileSync(serverGo, good);
        editServer();
        await lineAfter(from, /^server: server\.go changed → sha-/);
        await watch!.idle();
        assert.equal(deployedTag("server"), tagOf("server"));
    });

    /** Starts an update whose program waits, runs `stop` while it does, and checks that the next watch deploys. */
    async function stopMidUpdate(stop: () => Promise<void>): Promise<string> {
        control.delayMs = 60_000;
        editServer();
        await waitUntil("the update to run the program", 30_000, async () => control.running || undefined);
        const from = lines.length;
        await stop();
        // A real program ends soon after its engine goes; this one would wait out its delay.
        control.cancelled = true;
        await waitUntil("the stopped run of the program to end", 10_000, async () => !control.running || undefined);
        // The next watch starts once the CLI is gone, as a terminal's would after Ctrl-C or a kill.
        await waitUntil("the CLI to exit", 60_000, async () => (spawnSync("pgrep", ["-P", String(process.pid), "-x", "pulumi"]).status === 1 ? true : undefined));
        [control.cancelled, control.delayMs] = [false, 0];
        const stopped = lines.slice(from).join("\n");
        const restart = lines.length;
        await start();
        await lineAfter(restart, /^server: deployed → /);
        await watch!.idle();
        const after = lines.slice(restart).join("\n");
        assert.doesNotMatch(after, /not deployed/);
        assert.deepEqual(JSON.parse(pulumiCli(["stack", "export"])).deployment.pending_operations ?? [], []);
        assert.equal(history()[0].result, "succeeded");
        assert.equal(deployedTag("server"), tagOf("server"), `what the watches printed:\n${stopped}\n${after}`);
        return `${stopped}\n${after}`;
    }

    it("Ctrl-C once during an update stops it at a safe point; the next watch deploys", async () => {
        const seen = await stopMidUpdate(async () => {
            watch!.interrupt();
            assert.equal(await watch!.done, 130);
        });
        assert.match(seen, /stopping: the update under way stops at its next safe point/);
    });

    it("Ctrl-C twice at once stops at once; the next watch recovers the stack by itself", async () => {
        await stopMidUpdate(async () => {
            watch!.interrupt();
            watch!.interrupt();
            assert.equal(await watch!.done, 130);
        });
    });

    it("a CLI killed mid-update leaves its lock; the next watch removes it and deploys", async () => {
        const seen = await stopMidUpdate(async () => {
            const pids = spawnSync("pgrep", ["-P", String(process.pid), "-x", "pulumi"], { encoding: "utf8" }).stdout.trim().split("\n");
            assert.equal(pids.length, 1, "one CLI runs the update");
            const killed = lines.length;
            process.kill(Number(pids[0]), "SIGKILL");
            await lineAfter(killed, /^not deployed/);
            watch!.interrupt();
            await watch!.done;
        });
        assert.match(seen, /recover: removed the lock of pid \d+ of \S+@\S+ \(since \S+\): that deploy is not running/);
    });
});
