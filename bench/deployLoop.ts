// `npm run bench:deploy-loop`: the dev stack's edit loop with the real Pulumi engine, side by side
// with docker-compose doing the same to the same apps, in one run. Prints markdown; `--write` also
// replaces the deploy-loop section of bench/README.md.
//
// Needs a Pulumi CLI, its Node.js language host and the Docker provider. None of those is on the
// Go module proxy in full: where they are missing this says so and measures nothing.
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { Janitor, dockerCli, ensureEngine, ensureGoBaseImage, repoRoot } from "../test/support/docker";
import { withSection } from "./readme";

const ROUNDS = 3;
const PULUMI_PORT = 18080;
const COMPOSE_PORT = 18081;
/** Where the deploy-loop section of bench/README.md starts; bench/run.ts keeps it when it rewrites the rest. */
export const MARKER = "<!-- deploy-loop -->";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What is missing to measure, or nothing. */
export function missingTools(onPath: (bin: string) => boolean, hasPlugin: (kind: string, name: string) => boolean): string[] {
    const missing: string[] = [];
    if (!onPath("pulumi")) missing.push("the Pulumi CLI (`pulumi`)");
    if (!onPath("pulumi-language-nodejs")) missing.push("its Node.js language host (`pulumi-language-nodejs`)");
    if (!onPath("pulumi-resource-docker") && !hasPlugin("resource", "docker")) missing.push("the Docker provider (`pulumi-resource-docker`)");
    if (!onPath("docker-compose")) missing.push("docker-compose (Debian's package)");
    return missing;
}

function onPath(bin: string): boolean {
    return (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, bin)));
}

function hasPlugin(kind: string, name: string): boolean {
    const dir = path.join(process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi"), "plugins");
    return fs.existsSync(dir) && fs.readdirSync(dir).some((d) => d.startsWith(`${kind}-${name}-`));
}

/** One GET; the counter in the answer tells which container served it. */
function hit(port: number): Promise<number | undefined> {
    return new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false, timeout: 1000 }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve(res.statusCode === 200 ? Number(/Counter: (\d+)/.exec(body)?.[1]) : undefined));
        });
        req.on("error", () => resolve(undefined));
        req.on("timeout", () => req.destroy());
    });
}

/** What a client requesting `/` every 20 ms saw while an update ran. */
interface Swap {
    /** Seconds from the command's start until a new container answered (its counter starts again at 1). */
    answered: number;
    /** Requests refused, reset or timed out (1 s) in that time. */
    failed: number;
    /** The longest stretch, in seconds, between two answered requests. */
    outage: number;
}

async function timedSwap(port: number, command: () => Promise<void>): Promise<Swap> {
    let last = (await hit(port)) ?? 0;
    const start = Date.now();
    let lastAnswer = start;
    const swap: Swap = { answered: 0, failed: 0, outage: 0 };
    let done = false;
    const probe = (async () => {
        while (!done || swap.answered === 0) {
            const n = await hit(port);
            const now = Date.now();
            if (n === undefined) swap.failed++;
            else {
                if (n < last && swap.answered === 0) swap.answered = (now - start) / 1000;
                swap.outage = Math.max(swap.outage, (now - lastAnswer) / 1000);
                lastAnswer = now;
                last = n;
            }
            if (now - start > 120_000) throw new Error(`no new container answered on ${port} within 120 s`);
            await sleep(20);
        }
    })();
    await command();
    done = true;
    await probe;
    return swap;
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out.slice(-4000)}`))));
    });
}

async function timed(fn: () => Promise<void>): Promise<number> {
    const start = Date.now();
    await fn();
    return (Date.now() - start) / 1000;
}

/** A copy of the project's tracked files, so the benchmark's edits and state never touch the clone. */
function copyProject(into: string, hostPort: number): void {
    const files = execFileSync("git", ["ls-files", "-z"], { cwd: repoRoot, encoding: "utf8" }).split("\0").filter(Boolean);
    for (const f of files) {
        fs.mkdirSync(path.join(into, path.dirname(f)), { recursive: true });
        fs.copyFileSync(path.join(repoRoot, f), path.join(into, f));
    }
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(into, "node_modules"));
    fs.cpSync(path.join(repoRoot, "components", "bin"), path.join(into, "components", "bin"), { recursive: true });
    const stackFile = path.join(into, "Pulumi.dev.yaml");
    fs.writeFileSync(stackFile, fs.readFileSync(stackFile, "utf8").replace("hostPort: 8080", `hostPort: ${hostPort}`));
}

function composeFile(goImage: string, port: number): string {
    const build = (app: string) => `    build:\n      context: ./apps/${app}\n      args:\n        GO_IMAGE: ${goImage}\n`;
    return (
        "version: \"3.8\"\nservices:\n" +
        `  server:\n${build("server")}    ports:\n      - "127.0.0.1:${port}:8080"\n    read_only: true\n    user: "65532:65532"\n    cap_drop: [ALL]\n    restart: unless-stopped\n` +
        `  hello:\n${build("hello")}    read_only: true\n    user: "65532:65532"\n    cap_drop: [ALL]\n`
    );
}

/** One line of server.go changed, as an edit would: the binary and so the image change. */
function editServer(dir: string, round: number): void {
    const file = path.join(dir, "apps", "server", "server.go");
    const before = fs.readFileSync(file, "utf8");
    const after = before.replace(/body := make\(\[\]byte, 0, \d+\)/, `body := make([]byte, 0, ${48 + round})`);
    if (after === before) throw new Error(`${file}: the line the benchmark edits (body := make([]byte, 0, N)) is gone or already says ${48 + round}`);
    fs.writeFileSync(file, after);
}

/** `npm run watch:dev` running in `dir`, in its own process group as a terminal would run it. */
function startWatchDev(dir: string, env: NodeJS.ProcessEnv) {
    const child = spawn("npm", ["run", "--silent", "watch:dev"], { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const lines: string[] = [];
    let rest = "";
    const take = (d: Buffer) => {
        const text = rest + d.toString();
        const parts = text.split("\n");
        rest = parts.pop() ?? "";
        lines.push(...parts);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    return {
        /** Waits for the next line matching `pattern` printed after `from`. */
        async line(pattern: RegExp, from = 0): Promise<string> {
            const deadline = Date.now() + 120_000;
            for (;;) {
                const found = lines.slice(from).find((l) => pattern.test(l));
                if (found) return found;
                if (Date.now() > deadline || child.exitCode !== null) throw new Error(`watch:dev printed no line matching ${pattern}:\n${lines.join("\n")}`);
                await sleep(20);
            }
        },
        get printed() {
            return lines.length;
        },
        /** Ctrl-C, as a terminal sends it to the whole group. */
        async stop(): Promise<void> {
            process.kill(-child.pid!, "SIGINT");
            await exited;
        },
    };
}

/** One figure per round, by what was measured. */
type Series = Record<string, number[]>;

async function main() {
    const write = process.argv.includes("--write");
    const missing = missingTools(onPath, hasPlugin);
    if (missing.length > 0) {
        console.log(`deploy-loop: not measured. Missing: ${missing.join("; ")}.`);
        console.log("The Pulumi CLI builds from Go modules (test/harness/engines/pulumi.sh); the language host and the Docker provider do not (see bench/README.md).");
        return;
    }
    await ensureEngine();
    const janitor = new Janitor();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-deploy-loop-"));
    const ours = path.join(work, "pulumi");
    const peer = path.join(work, "compose");
    const goImage = await ensureGoBaseImage(janitor);
    // docker-compose builds through the docker CLI it finds first: Debian's, which has BuildKit.
    const composeEnv = { PATH: `${path.dirname(dockerCli())}:${process.env.PATH}`, DOCKER_BUILDKIT: "1", COMPOSE_DOCKER_CLI_BUILD: "1", COMPOSE_PROJECT_NAME: "dockyardbench" };
    const pulumiEnv = { PULUMI_CONFIG_PASSPHRASE: "", PULUMI_SKIP_UPDATE_CHECK: "true", DOCKYARD_GO_IMAGE: goImage, PULUMI_HOME: path.join(work, "pulumi-home") };
    const npm = (script: string) => () => sh("npm", ["run", "--silent", script], ours, pulumiEnv);
    const pulumi = (...args: string[]) => () => sh("pulumi", [...args, "--stack", "dev"], ours, pulumiEnv);
    const compose = () => sh("docker-compose", ["up", "-d", "--build"], peer, composeEnv);
    const f: Series = {};
    const record = (key: string, value: number) => (f[key] ??= []).push(value);
    const swap = async (key: string, port: number, command: () => Promise<void>) => {
        const r = await timedSwap(port, command);
        record(`${key}.answered`, r.answered);
        record(`${key}.failed`, r.failed);
        record(`${key}.outage`, r.outage);
    };
    try {
        copyProject(ours, PULUMI_PORT);
        copyProject(peer, COMPOSE_PORT);
        fs.writeFileSync(path.join(peer, "docker-compose.yml"), composeFile(goImage, COMPOSE_PORT));
        // Warm the build cache for both (the targets are for a warm cache).
        await sh("docker-compose", ["build"], peer, composeEnv);

        for (let round = 1; round <= ROUNDS; round++) {
            // First run, each from nothing: the quick start's command on ours (it creates the stack).
            record("first.ours", await timed(npm("up:dev")));
            record("first.compose", await timed(compose));
            // Nothing changed since: the documented commands, then the plain CLI as a user may type it.
            record("noopPreview.npm", await timed(npm("preview:dev")));
            record("noopPreview.plain", await timed(pulumi("preview")));
            record("noopUp.npm", await timed(npm("up:dev")));
            record("noopUp.plain", await timed(pulumi("up", "--yes")));
            record("noopUp.compose", await timed(compose));
            // The edit loop: one line of server.go, then the command, until the new container answers.
            editServer(ours, 2 * round);
            await swap("edit.npm", PULUMI_PORT, npm("up:dev"));
            editServer(ours, 2 * round + 1);
            await swap("edit.plain", PULUMI_PORT, pulumi("up", "--yes"));
            editServer(peer, round);
            await swap("edit.compose", COMPOSE_PORT, compose);
            // watch:dev, once its first update (of an unchanged stack) is done: from the save to the new answer.
            const watch = startWatchDev(ours, pulumiEnv);
            await watch.line(/^server: deployed/);
            await sleep(500);
            const from = watch.printed;
            await swap("edit.watch", PULUMI_PORT, async () => {
                editServer(ours, 50 + round);
                await watch.line(/^server: server\.go changed/, from);
            });
            await watch.stop();

            await sh("npm", ["run", "--silent", "destroy:dev"], ours, pulumiEnv);
            await pulumi("stack", "rm", "--yes", "--preserve-config")();
            await sh("docker-compose", ["down"], peer, composeEnv);
        }
    } finally {
        await pulumi("destroy", "--yes")().catch(() => undefined);
        await sh("docker-compose", ["down", "--rmi", "local"], peer, composeEnv).catch(() => undefined);
        await janitor.clean();
        if (!process.env.BENCH_KEEP) fs.rmSync(work, { recursive: true, force: true });
    }
    const tools = [
        `pulumi ${execFileSync("pulumi", ["version"], { encoding: "utf8" }).trim()}`,
        `pulumi-language-nodejs ${execFileSync("pulumi-language-nodejs", ["-version"], { encoding: "utf8" }).trim()}`,
        `docker-compose ${execFileSync("docker-compose", ["version", "--short"], { encoding: "utf8" }).trim()}`,
        `Docker engine ${execFileSync(dockerCli(), ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8" }).trim()}`,
    ];
    const body = report(f, tools);
    console.log(body);
    if (write) {
        const file = path.join(repoRoot, "bench", "README.md");
        fs.writeFileSync(file, withSection(fs.readFileSync(file, "utf8"), MARKER, body));
    }
}

/** The deploy-loop section of bench/README.md. */
export function report(f: Series, tools: string[]): string {
    const m = (key: string) => median(f[key]);
    const s = (key: string) => m(key).toFixed(2);
    const ratio = (a: string, b: string) => `${(m(a) / m(b)).toFixed(1)}×`;
    const met = (key: string, target: number) => (m(key) <= target ? "yes" : "**no**");
    const each = (key: string) => f[key].map((x) => (Number.isInteger(x) ? String(x) : x.toFixed(2))).join(", ");
    const ratioMet = (a: string, b: string, target: number) => (m(a) / m(b) <= target ? "yes" : "**no**");
    const rows = [
        ["first run, warm build cache: `npm run up:dev` / `up -d --build`", s("first.ours"), s("first.compose"), ratio("first.ours", "first.compose"), "—", "—"],
        ["no-op `npm run preview:dev`", s("noopPreview.npm"), "—", "—", "≤ 2.5 s", met("noopPreview.npm", 2.5)],
        ["no-op `pulumi preview --stack dev`", s("noopPreview.plain"), "—", "—", "—", "—"],
        ["no-op `npm run up:dev` / `up -d --build`", s("noopUp.npm"), s("noopUp.compose"), ratio("noopUp.npm", "noopUp.compose"), "≤ 2×", ratioMet("noopUp.npm", "noopUp.compose", 2)],
        ["no-op `pulumi up --yes`", s("noopUp.plain"), "—", "—", "—", "—"],
        ["save → new container answers: `npm run watch:dev` / `up -d --build`", s("edit.watch.answered"), s("edit.compose.answered"), ratio("edit.watch.answered", "edit.compose.answered"), "≤ 1.5×", ratioMet("edit.watch.answered", "edit.compose.answered", 1.5)],
        ["one-line change → new container answers: `npm run up:dev` / `up -d --build`", s("edit.npm.answered"), s("edit.compose.answered"), ratio("edit.npm.answered", "edit.compose.answered"), "≤ 1.7×", ratioMet("edit.npm.answered", "edit.compose.answered", 1.7)],
        ["one-line change → new container answers: `pulumi up --yes`", s("edit.plain.answered"), "—", "—", "—", "—"],
        ["failed requests during that update, each round (`watch:dev`; `up:dev`; `pulumi up`)", `${each("edit.watch.failed")}; ${each("edit.npm.failed")}; ${each("edit.plain.failed")}`, each("edit.compose.failed"), "—", "as few as the design allows", "—"],
        ["longest time without an answer, s, each round (`watch:dev`; `up:dev`; `pulumi up`)", `${each("edit.watch.outage")}; ${each("edit.npm.outage")}; ${each("edit.plain.outage")}`, each("edit.compose.outage"), "—", "—", "—"],
    ];
    return (
        `${MARKER}\n## Deploy loop (dev stack, local Docker engine)\n\n` +
        `Generated by \`npm run bench:deploy-loop -- --write\` (bench/deployLoop.ts). Seconds, median of ${ROUNDS} rounds, ` +
        "ours (the real Pulumi engine on a copy of the project) and docker-compose (Debian's, same apps, same Go image, same hardening) " +
        "alternating in one run; a client requests `/` every 20 ms (1 s timeout) during each update. " +
        "docker-compose does not wait for the health check; ours does before `up` returns, which the answer times do not include. " +
        `Tools: ${tools.join(", ")}.\n\n` +
        "| step | pulumi | docker-compose | pulumi / compose | target | met |\n| --- | --- | --- | --- | --- | --- |\n" +
        rows.map((r) => `| ${r.join(" | ")} |`).join("\n") +
        "\n"
    );
}

if (require.main === module) {
    main().catch((e) => {
        console.error(e);
        process.exit(1);
    });
}
