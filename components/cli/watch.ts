// dockyard watch --stack <stack>: deploys a Docker-target stack, then keeps it in step with the files. Each
// app's build context (its .dockerignore honoured), the program and the stack's config are watched, and the
// local packages named by --also; a burst of saves gives one update, never two at once, and a save during one
// queues one more. The program runs in this process (an inline program: no language host, no TypeScript
// compile per update) and is loaded again after a change to it. Ctrl-C lets the update under way end; twice
// stops at once, and the next watch or up recovers the stack (recover.ts).
// Types only at load: the SDK loads when a verb runs, so `dockyard --help` and refusals stay quick.
import type * as automation from "@pulumi/pulumi/automation";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { compileErrors } from "./compileErrors";
import { UsageError, findProject, parseArgs, projectName, projectProgram, required, selectStack } from "./project";
import { recoverStack } from "./recover";
import { forgetRun, recordRun } from "./runRecords";
import type { Verb } from "./verb";
import type { AppResult, Changes, SourceState } from "./watchChanges";
import { UpdateQueue, appLine, changes, engineErrors, firstAnswer, isEmpty, sourcesOf, stepsByApp, takeState } from "./watchChanges";

export interface WatchOptions {
    /** The project directory. */
    root: string;
    stack: string;
    /** The program to deploy, loaded again after the program or a package changes. Default: the project's entry point. */
    loadProgram?: () => automation.PulumiFn;
    /** Where the lines go. Default: stdout. */
    log?: (line: string) => void;
    /** Milliseconds without a save before an update starts. Default: 100. */
    quietMs?: number;
    /**
     * Pass an interrupt on to the CLI. Default: unless stdin is a terminal, whose Ctrl-C reaches the CLI by
     * itself (one process group): passed on as well, a first Ctrl-C would count twice.
     */
    forwardInterrupt?: boolean;
    /** Local packages the program is built from (project-relative folders), watched like the program. Default: none. */
    packages?: string[];
    /** A shell command run in the project before the program is loaded again after a package changed (its build). Default: none. */
    prepare?: string;
}

export interface Watch {
    /** Resolves with the exit code once watching ended (130 after Ctrl-C). */
    done: Promise<number>;
    /** What Ctrl-C does: the first lets the update under way end, the second stops at once. */
    interrupt(): void;
    /** Resolves when an update started by then and any it queued have ended. */
    idle(): Promise<void>;
}

/** Seconds, for lines. */
const since = (start: number) => (Date.now() - start) / 1000;

export async function startWatch(opts: WatchOptions): Promise<Watch> {
    const { root, stack: stackName } = opts;
    const packages = opts.packages ?? [];
    const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
    const loadProgram = opts.loadProgram ?? (() => projectProgram(root));

    let program = loadProgram();
    const stack = await (await import("@pulumi/pulumi/automation")).LocalWorkspace.createOrSelectStack(
        { stackName, projectName: projectName(root), program: () => program() },
        { workDir: root, pulumiCommand: withoutRefresh(await (await import("@pulumi/pulumi/automation")).PulumiCommand.get({ skipVersionCheck: true })) },
    );
    // What a killed run left (a lock, a container holding the port, pending operations) goes before the first update.
    await recoverStack(stackName, {
        force: false,
        projectDir: root,
        log: (line) => {
            if (!line.startsWith("nothing to recover")) log(`recover: ${line}`);
        },
    });

    let sources = sourcesOf(root, stackName, packages);
    let deployed: SourceState | undefined;
    let outputs: Record<string, { imageRef?: string; endpoint?: string; logs?: string }> = {};
    let interrupted = 0;

    async function update(burstStart: number): Promise<void> {
        try {
            sources = sourcesOf(root, stackName, packages);
        } catch (e) {
            return log(`Pulumi.${stackName}.yaml does not parse, nothing deployed: ${(e as Error).message}`);
        }
        rewatch();
        const now = takeState(root, sources);
        const changed = deployed ? changes(deployed, now) : undefined;
        if (changed && isEmpty(changed)) return;
        if (changed?.packages.length && !prepare(root, opts.prepare, log)) return;
        if (changed && (changed.packages.length || changed.program.length)) {
            try {
                program = loadProgram();
            } catch (e) {
                log(`the program does not load, nothing deployed: ${(e as Error).message}`);
                return;
            }
        }
        const events: automation.EngineEvent[] = [];
        try {
            const result = await recordingCli(() => stack.up({ onEvent: (e) => events.push(e), color: "never" }));
            deployed = now;
            const before = outputs;
            outputs = (result.outputs.apps?.value ?? {}) as typeof outputs;
            const lines = await appLines(before, outputs, changed, stepsByApp(events), burstStart);
            for (const line of lines) log(line);
            if (lines.length === 0) log(`no change to the stack (${describe(changed)}) in ${since(burstStart).toFixed(1)} s`);
        } catch (e) {
            if (interrupted) return log("update stopped by Ctrl-C");
            const apps = Object.keys(changed?.apps ?? sources.apps);
            const compiler = compileErrors(apps.filter((a) => sources.apps[a]).map((a) => path.join(root, sources.apps[a])));
            const reasons = compiler ? [compiler] : engineErrors(events);
            const first = (e as Error).message.split("\n").map((l) => l.trim()).find(Boolean) ?? "the update failed";
            log(`not deployed, what runs keeps running: ${reasons.length ? reasons.join("\n") : first}`);
        }
    }

    /** A line per app the update changed, with the first answer of its endpoint (or what the job printed). */
    async function appLines(before: typeof outputs, after: typeof outputs, changed: Changes | undefined, steps: Map<string, string[]>, burstStart: number) {
        const touched = Object.keys(after).filter((app) => !changed || steps.has(app) || before[app]?.imageRef !== after[app].imageRef);
        const results = await Promise.all(
            touched.map(async (app): Promise<AppResult> => {
                const { imageRef, endpoint, logs } = after[app];
                const answer = endpoint ? await firstAnswer(endpoint, 15_000) : logs;
                return { app, changed: changed?.apps[app] ?? [], what: changed ? undefined : "deployed", seconds: since(burstStart), imageRef, endpoint, answer };
            }),
        );
        return results.map(appLine);
    }

    const queue = new UpdateQueue(update, opts.quietMs ?? 100, (e) => log(`the update stopped on an unexpected error, nothing more deployed: ${(e as Error).message}`));
    const watchers = new Map<string, fs.FSWatcher>();
    /** Watches what `sources` names: each app's context and each package, recursively; the project's own files. */
    function rewatch() {
        const wanted = new Map<string, (file: string) => boolean>([
            ...Object.values(sources.apps).map((dir) => [dir, () => true] as [string, (file: string) => boolean]),
            ...packages.map((dir) => [dir, (file: string) => !/^(bin|node_modules)([/\\]|$)/.test(file)] as [string, (file: string) => boolean]),
            [".", (file: string) => sources.program.includes(file)],
        ]);
        for (const [dir, watcher] of watchers) {
            if (!wanted.has(dir)) {
                watcher.close();
                watchers.delete(dir);
            }
        }
        for (const [dir, relevant] of wanted) {
            if (watchers.has(dir) || !fs.existsSync(path.join(root, dir))) continue;
            const watcher = fs.watch(path.join(root, dir), { recursive: dir !== "." }, (_event, file) => {
                if (file === null || relevant(file.toString())) queue.notify();
            });
            watchers.set(dir, watcher);
        }
    }

    let finish: (code: number) => void = () => undefined;
    const done = new Promise<number>((resolve) => (finish = resolve));
    const stopWatching = () => {
        queue.stop();
        for (const w of watchers.values()) w.close();
        watchers.clear();
    };

    // The first update deploys what is there, as `dockyard up` would; then every save counts.
    rewatch();
    queue.notify();
    log(`watching ${[...Object.values(sources.apps), "the program", ...packages].join(", ")} for stack ${stackName}; Ctrl-C stops`);

    return {
        done,
        idle: () => queue.idle(),
        interrupt() {
            interrupted++;
            stopWatching();
            if (opts.forwardInterrupt ?? !process.stdin.isTTY) signalCli("SIGINT");
            if (interrupted === 1 && queue.running) {
                log("stopping: the update under way stops at its next safe point (Ctrl-C again stops it now; the next `dockyard watch` or `up` recovers the stack)");
                void queue.idle().then(() => finish(130));
            } else {
                if (queue.running) log("stopped during an update: the next `dockyard watch` or `up` recovers the stack");
                finish(130);
            }
        },
    };
}

type Run = (args: string[], ...rest: unknown[]) => Promise<unknown>;

/**
 * The CLI with `--refresh=false` on every `up`: Pulumi.yaml refreshes every operation (drift on shared stacks),
 * which on dev would read every container and image again on each save. The Automation API has no option for
 * it, so this wraps the command's `run` (internal to @pulumi/pulumi, whose version package.json pins).
 */
function withoutRefresh(cli: automation.PulumiCommand): automation.PulumiCommand {
    const run = (cli as unknown as { run?: Run }).run;
    if (typeof run !== "function") throw new Error("this @pulumi/pulumi has no PulumiCommand.run: dockyard watch cannot turn the refresh off");
    const wrapped: Run = (args, ...rest) => run.call(cli, args[0] === "up" ? [...args, "--refresh=false"] : args, ...rest);
    return Object.assign(Object.create(cli) as automation.PulumiCommand, { run: wrapped });
}

/** Runs `--prepare` (a package's build) in the project; prints its own messages if it fails. */
function prepare(root: string, command: string | undefined, log: (line: string) => void): boolean {
    if (!command) return true;
    const r = spawnSync(command, { cwd: root, shell: true, encoding: "utf8" });
    if (r.status === 0) return true;
    log(`${command} failed, nothing deployed:\n${`${r.stdout}${r.stderr}`.trim()}`);
    return false;
}

/** The Pulumi CLIs this process started that run now. */
function cliPids(): number[] {
    const r = spawnSync("pgrep", ["-P", String(process.pid), "-x", "pulumi"], { encoding: "utf8" });
    return (r.stdout ?? "").split("\n").filter(Boolean).map(Number);
}

/**
 * Runs an update with a record of the CLI the Automation API starts for it (runRecords.ts), looked for every
 * 250 ms: if the CLI is killed, the next watch or recover can prove its lock dead. A clean update drops it.
 */
async function recordingCli<T>(update: () => Promise<T>): Promise<T> {
    const seen = new Set<number>();
    const look = () => {
        for (const pid of cliPids().filter((p) => !seen.has(p))) {
            seen.add(pid);
            recordRun(pid);
        }
    };
    const timer = setInterval(look, 250);
    try {
        const result = await update();
        for (const pid of seen) forgetRun(pid);
        return result;
    } finally {
        clearInterval(timer);
    }
}

/** Sends `signal` to the Pulumi CLI this process started, if one runs. */
function signalCli(signal: NodeJS.Signals): void {
    for (const pid of cliPids()) {
        try {
            process.kill(pid, signal);
        } catch {
            // Gone already.
        }
    }
}

function describe(c: Changes | undefined): string {
    if (!c) return "first deploy";
    const parts = [...Object.entries(c.apps).map(([app, files]) => `${app}: ${files.join(", ")}`), ...c.program, ...c.packages];
    return `${parts.join(", ")} changed`;
}

const USAGE = "usage: dockyard watch --stack <name> [--create] [--also <folder>]... [--prepare <command>]";

export const watch: Verb = {
    summary: "deploy a Docker-target stack, then again after every save, until Ctrl-C",
    help: [
        USAGE,
        "",
        "Recovers what a killed run left, deploys, then watches what a deploy reads: each app's build context as",
        "the build sees it (.dockerignore honoured; the apps are the stack config's dockyard:apps, under",
        "dockyard:appsDir, default apps), the program's files at the project root and Pulumi.<stack>.yaml, and each",
        "--also folder (a local package the program uses; --prepare, e.g. \"npx tsc -b components\", runs after a",
        "change there). One update per burst of saves, never two at once; one line per app it changed, with the",
        "first answer of its endpoint. Ctrl-C lets the update under way end; twice stops at once. --create makes",
        "the stack when the backend has none.",
        "Exit codes: 130 after Ctrl-C; 2 bad input or a failed check.",
    ].join("\n"),
    async run(argv) {
        const also: string[] = [];
        const rest = argv.filter((a, i) => {
            if (a === "--also" || argv[i - 1] === "--also") {
                if (a !== "--also") also.push(a);
                return false;
            }
            return true;
        });
        if (argv[argv.length - 1] === "--also") throw new UsageError("--also needs a value");
        const { values, switches } = parseArgs(rest, ["--stack", "--prepare"], ["--create"]);
        const stack = required(values, "--stack");
        const project = findProject(process.cwd());
        selectStack(project, stack, switches.has("--create"));
        const session = await startWatch({ root: project.root, stack, packages: also, prepare: values["--prepare"] });
        process.on("SIGINT", () => session.interrupt());
        process.on("SIGTERM", () => session.interrupt());
        return session.done;
    },
};
