// `npm run watch:dev` (scripts/dev.sh watch): deploys the dev stack, then keeps it in step with the files.
// Each app's build context (its .dockerignore honoured), the program, the components and Pulumi.dev.yaml
// are watched; a burst of saves gives one update, never two at once, and a save during one queues one more.
// The program runs in this process (an inline program: no language host, no TypeScript compile per update)
// and is loaded again after a change to it or to the components. Ctrl-C lets the update under way end;
// twice stops at once, and the next watch:dev or up:dev recovers the stack (recover.ts).
import * as automation from "@pulumi/pulumi/automation";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { recover } from "./recover";
import type { AppResult, Changes, SourceState, Sources } from "./watch";
import { UpdateQueue, appLine, changes, engineErrors, firstAnswer, isEmpty, sourcesOf, stepsByApp, takeState } from "./watch";

export interface WatchOptions {
    /** The project directory. */
    root: string;
    stack: string;
    /** The program to deploy, loaded again after the program or components change. Default: the project's entry point. */
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
    const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
    const loadProgram = opts.loadProgram ?? (() => projectProgram(root));

    let program = loadProgram();
    const stack = await automation.LocalWorkspace.createOrSelectStack(
        { stackName, projectName: "dockyard", program: () => program() },
        { workDir: root, pulumiCommand: withoutRefresh(await automation.PulumiCommand.get({ skipVersionCheck: true })) },
    );
    // What a killed run left (a lock, a container holding the port, pending operations) goes before the first update.
    await recover(stackName, {
        force: false,
        projectDir: root,
        log: (line) => {
            if (!line.startsWith("nothing to recover")) log(`recover: ${line}`);
        },
    });

    let sources = sourcesOf(root, stackName);
    let deployed: SourceState | undefined;
    let outputs: Record<string, { imageRef?: string; endpoint?: string; logs?: string }> = {};
    let interrupted = 0;

    async function update(burstStart: number): Promise<void> {
        try {
            sources = sourcesOf(root, stackName);
        } catch (e) {
            return log(`Pulumi.${stackName}.yaml does not parse, nothing deployed: ${(e as Error).message}`);
        }
        rewatch();
        const now = takeState(root, sources);
        const changed = deployed ? changes(deployed, now) : undefined;
        if (changed && isEmpty(changed)) return;
        if (changed?.components.length && !buildComponents(root, log)) return;
        if (changed && (changed.components.length || changed.program.length)) {
            try {
                program = loadProgram();
            } catch (e) {
                log(`the program does not load, nothing deployed: ${(e as Error).message}`);
                return;
            }
        }
        const events: automation.EngineEvent[] = [];
        try {
            const result = await stack.up({ onEvent: (e) => events.push(e), color: "never" });
            deployed = now;
            const before = outputs;
            outputs = (result.outputs.apps?.value ?? {}) as typeof outputs;
            const lines = await appLines(before, outputs, changed, stepsByApp(events), burstStart);
            for (const line of lines) log(line);
            if (lines.length === 0) log(`no change to the stack (${describe(changed)}) in ${since(burstStart).toFixed(1)} s`);
        } catch (e) {
            if (interrupted) return log("update stopped by Ctrl-C");
            const apps = Object.keys(changed?.apps ?? sources.apps);
            const compiler = compileErrors(root, sources, apps);
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
    /** Watches what `sources` names: each app's context and the components, recursively; the project's own files. */
    function rewatch() {
        const wanted = new Map<string, (file: string) => boolean>([
            ...Object.values(sources.apps).map((dir) => [dir, () => true] as [string, (file: string) => boolean]),
            ["components", (file: string) => !/^(bin|node_modules)([/\\]|$)/.test(file)],
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

    // The first update deploys what is there, as up:dev would; then every save counts.
    rewatch();
    queue.notify();
    log(`watching ${Object.values(sources.apps).join(", ")}, the program and components for stack ${stackName}; Ctrl-C stops`);

    return {
        done,
        idle: () => queue.idle(),
        interrupt() {
            interrupted++;
            stopWatching();
            if (opts.forwardInterrupt ?? !process.stdin.isTTY) signalCli("SIGINT");
            if (interrupted === 1 && queue.running) {
                log("stopping: the update under way stops at its next safe point (Ctrl-C again stops it now; the next watch:dev or up:dev recovers the stack)");
                void queue.idle().then(() => finish(130));
            } else {
                if (queue.running) log("stopped during an update: the next watch:dev or up:dev recovers the stack");
                finish(130);
            }
        },
    };
}

/**
 * The project's program, loaded afresh as Pulumi loads it: its entry point (package.json's `main`, else
 * `index`), whose export is the program function (or its outputs). Its modules and the built components
 * leave the require cache first.
 */
function projectProgram(root: string): automation.PulumiFn {
    const own = (file: string) => file.startsWith(root + path.sep) && !file.includes(`${path.sep}node_modules${path.sep}`) && !file.startsWith(path.join(root, "scripts") + path.sep);
    for (const file of Object.keys(require.cache)) if (own(file)) delete require.cache[file];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const entry = require(require.resolve(root)) as { default?: unknown } | (() => unknown);
    const exported = typeof entry === "object" && entry !== null && "default" in entry ? entry.default : entry;
    return async () => (typeof exported === "function" ? await (exported as () => unknown)() : exported) as Record<string, unknown>;
}

type Run = (args: string[], ...rest: unknown[]) => Promise<unknown>;

/**
 * The CLI with `--refresh=false` on every `up`: Pulumi.yaml refreshes every operation (drift on shared stacks),
 * which on dev would read every container and image again on each save. The Automation API has no option for
 * it, so this wraps the command's `run` (internal to @pulumi/pulumi, whose version package.json pins).
 */
function withoutRefresh(cli: automation.PulumiCommand): automation.PulumiCommand {
    const run = (cli as unknown as { run?: Run }).run;
    if (typeof run !== "function") throw new Error("this @pulumi/pulumi has no PulumiCommand.run: watch:dev cannot turn the refresh off");
    const wrapped: Run = (args, ...rest) => run.call(cli, args[0] === "up" ? [...args, "--refresh=false"] : args, ...rest);
    return Object.assign(Object.create(cli) as automation.PulumiCommand, { run: wrapped });
}

/** Compiles the component package, as up:dev does when its sources changed; prints tsc's own messages if it fails. */
function buildComponents(root: string, log: (line: string) => void): boolean {
    const r = spawnSync("npx", ["tsc", "-b", "components", "--pretty", "false"], { cwd: root, encoding: "utf8" });
    if (r.status === 0) return true;
    log(`components do not compile, nothing deployed:\n${`${r.stdout}${r.stderr}`.trim()}`);
    return false;
}

/** The Go compiler's own messages for the apps that do not compile (scripts/compile-errors.sh), or "" if all do. */
function compileErrors(root: string, sources: Sources, apps: string[]): string {
    const byDir = new Map<string, string[]>();
    for (const app of apps.filter((a) => sources.apps[a])) {
        const dir = path.dirname(sources.apps[app]);
        byDir.set(dir, [...(byDir.get(dir) ?? []), app]);
    }
    return [...byDir]
        .map(([dir, names]) => spawnSync("bash", [path.join(__dirname, "compile-errors.sh"), dir, ...names], { cwd: root, encoding: "utf8" }).stderr.trim())
        .filter(Boolean)
        .join("\n");
}

/** Sends `signal` to the Pulumi CLI this process started, if one runs. */
function signalCli(signal: NodeJS.Signals): void {
    const r = spawnSync("pgrep", ["-P", String(process.pid), "-x", "pulumi"], { encoding: "utf8" });
    for (const pid of r.stdout.split("\n").filter(Boolean)) {
        try {
            process.kill(Number(pid), signal);
        } catch {
            // Gone already.
        }
    }
}

function describe(c: Changes | undefined): string {
    if (!c) return "first deploy";
    const parts = [...Object.entries(c.apps).map(([app, files]) => `${app}: ${files.join(", ")}`), ...c.program, ...c.components];
    return `${parts.join(", ")} changed`;
}

async function main(argv: string[]): Promise<void> {
    const stack = argv[0];
    if (!stack) throw new Error("usage: watchDev.ts <stack>");
    const watch = await startWatch({ root: process.cwd(), stack });
    process.on("SIGINT", () => watch.interrupt());
    process.on("SIGTERM", () => watch.interrupt());
    process.exit(await watch.done);
}

if (require.main === module) {
    main(process.argv.slice(2)).catch((e) => {
        console.error((e as Error).message);
        process.exit(1);
    });
}
