// `npm run watch:dev` in a real terminal (tmux), where Ctrl-C reaches the whole foreground process group: npm,
// the watcher and the Pulumi CLI it started, each once. The real CLI
// on a file backend; the program is the project's own entry point, here one that stands in for compose.ts
// (one GoApp component per app carrying the content tag its image would get: no Docker provider is to be had).
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { dockerCli, ensureEngine, repoRoot, waitUntil } from "../support/docker";
import { engineDir } from "../support/engine";

/** The project's entry point: a stand-in for compose.ts that waits as long as `delay-ms` says, marking that it runs. */
const STAND_IN = `import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { contentTag } from ${JSON.stringify(path.join(repoRoot, "components", "internal", "contentTag"))};

class StandInApp extends pulumi.ComponentResource {
    constructor(name: string, imageRef: string) {
        super("dockyard:index:GoApp", name);
        this.registerOutputs({ imageRef });
    }
}

export = async () => {
    const apps: Record<string, { imageRef: string }> = {};
    for (const name of ["hello", "server"]) {
        const context = path.join(__dirname, "apps", name);
        const imageRef = \`dockyard/\${name}:\${contentTag({ context, dockerfile: path.join(context, "Dockerfile"), buildArgs: {} })}\`;
        new StandInApp(name, imageRef);
        apps[name] = { imageRef };
    }
    const delay = fs.existsSync(path.join(__dirname, "delay-ms")) ? Number(fs.readFileSync(path.join(__dirname, "delay-ms"), "utf8")) : 0;
    if (delay > 0) fs.writeFileSync(path.join(__dirname, "running"), String(process.pid));
    await new Promise((r) => setTimeout(r, delay));
    return { apps };
};
`;

describe("watch:dev in a real terminal (tmux): Ctrl-C as a person presses it", function () {
    this.timeout(5 * 60_000);
    const project = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-terminal-"));
    const socket = `dockyard-e2e-${process.pid}`;
    const session = "watch";
    const tmux = (args: string[]) => execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
    const screen = () => tmux(["capture-pane", "-p", "-J", "-S", "-2000", "-t", session]);
    /** The screen from the `n`th time the command was typed on. */
    const since = (n: number) => screen().split("$ npm run watch:dev").slice(n).join("$ npm run watch:dev");
    const type = (text: string) => tmux(["send-keys", "-t", session, text, "Enter"]);
    const atPrompt = () => tmux(["display-message", "-p", "-t", session, "#{pane_current_command}"]).trim() === "bash";
    const pulumi = (args: string[]) => execFileSync("pulumi", [...args, "--stack", "dev"], { cwd: project, encoding: "utf8", env: { ...process.env, ...env } });
    const locks = path.join(project, ".pulumi-state", ".pulumi", "locks", "organization", "dockyard", "dev");
    let env: NodeJS.ProcessEnv;

    before(async () => {
        await ensureEngine();
        fs.cpSync(path.join(repoRoot, "apps"), path.join(project, "apps"), { recursive: true });
        fs.copyFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), path.join(project, "Pulumi.dev.yaml"));
        fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: dockyard\nruntime: nodejs\nbackend:\n  url: file://./.pulumi-state\noptions:\n  refresh: always\n");
        fs.mkdirSync(path.join(project, ".pulumi-state"));
        fs.writeFileSync(path.join(project, "index.ts"), STAND_IN);
        fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(project, "node_modules"));
        // What `npm run watch:dev` runs once the package is built: the dockyard command, from this project's folder.
        const watch = `node ${path.join(repoRoot, "components", "bin", "cli", "main.js")} watch --stack dev --create`;
        const manifest = { name: "terminal", private: true, main: "index.ts", scripts: { "watch:dev": watch }, dependencies: { "@dockyard/components": "0.1.0" } };
        fs.writeFileSync(path.join(project, "package.json"), JSON.stringify(manifest));
        env = {
            PATH: `${engineDir("pulumi.sh")}:${path.dirname(process.execPath)}:${process.env.PATH}`,
            PULUMI_HOME: path.join(project, ".pulumi-home"),
            PULUMI_CONFIG_PASSPHRASE: "",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            TS_NODE_PROJECT: path.join(repoRoot, "tsconfig.json"),
            DOCKER: dockerCli(),
            HOME: process.env.HOME,
            TERM: "xterm",
        };
        // A server of this suite's own (its socket), started with exactly this environment and a plain shell.
        const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
        execFileSync("tmux", ["-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", "-c", project, ...envArgs, "bash --norc --noprofile"], {
            env: { ...process.env, ...env },
        });
        type("PS1='$ '; clear");
    });

    after(() => {
        spawnSync("tmux", ["-L", socket, "kill-server"]);
        // A watcher the test left behind goes with its terminal; the folder after it.
        fs.rmSync(project, { recursive: true, force: true });
    });

    it("Ctrl-C once mid-update: the update stops at its next safe point, the stack needs no recovery, the next watch:dev deploys", async () => {
        type("npm run watch:dev");
        await waitUntil("the first deploy on screen", 120_000, async () => (/server: deployed → sha-/.test(since(1)) ? true : undefined));

        // A save whose update runs long, then one Ctrl-C while it does.
        fs.writeFileSync(path.join(project, "delay-ms"), "60000");
        fs.appendFileSync(path.join(project, "apps", "server", "server.go"), "\n// a save\n");
        await waitUntil("the update to run the program", 60_000, async () => (fs.existsSync(path.join(project, "running")) ? true : undefined));
        tmux(["send-keys", "-t", session, "C-c"]);
        await waitUntil("watch:dev to end and the shell to be back", 60_000, async () => (atPrompt() ? true : undefined));
        const first = since(1);
        assert.match(first, /stopping: the update under way stops at its next safe point/);
        // One key press, though every process of the group got it: not "twice".
        assert.doesNotMatch(first, /stopped during an update/);
        // The CLI stopped at a safe point: it released its lock and left no operation pending.
        assert.deepEqual(fs.existsSync(locks) ? fs.readdirSync(locks) : [], [], "no lock left");
        assert.deepEqual(JSON.parse(pulumi(["stack", "export"])).deployment.pending_operations ?? [], []);
        assert.equal(spawnSync("pgrep", ["-f", "cli/main.js watch --stack dev"]).status, 1, "no watcher left running");

        fs.rmSync(path.join(project, "delay-ms"));
        fs.rmSync(path.join(project, "running"));
        type("npm run watch:dev");
        await waitUntil("the next watch:dev's first deploy", 120_000, async () => (/server: deployed → sha-/.test(since(2)) ? true : undefined));
        const second = since(2);
        assert.doesNotMatch(second, /recover:/, "nothing to recover");
        assert.doesNotMatch(second, /not deployed/);
        tmux(["send-keys", "-t", session, "C-c"]);
        await waitUntil("the idle watch:dev to end", 30_000, async () => (atPrompt() ? true : undefined));
        assert.equal(JSON.parse(pulumi(["stack", "history", "--json"]))[0].result, "succeeded");
    });
});
