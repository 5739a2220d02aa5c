// dockyard up|preview|destroy --stack <name>: what `pulumi <verb>` does on a Docker-target stack, made safe to
// run first and quick to run again: the stack made on request, the docker provider installed once and the
// engine's automatic plugin fetching off, the Go compiler's own words after a failed build, and, after a
// failed up, what a killed run left recovered and one more try.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as readline from "readline";
import { withoutBuildProgress } from "./buildProgress";
import { compileErrors } from "./compileErrors";
import { type Project, findProject, parseArgs, pulumi, required, selectStack } from "./project";
import { recoverStack } from "./recover";
import { forgetRun, recordRun } from "./runRecords";
import type { Verb } from "./verb";
import { sourcesOf } from "./watchChanges";

/**
 * The program depends on @pulumi/kubernetes too, so the engine would fetch that provider on every run until it
 * has it (seconds, and offline a retry each time); a Docker-target stack needs only the docker provider. It is
 * installed once, at the version of the project's @pulumi/docker, and automatic fetching is turned off.
 */
function dockerProvider(project: Project): void {
    if (process.env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION) return;
    const onPath = (process.env.PATH ?? "").split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, "pulumi-resource-docker")));
    if (!onPath) {
        const manifest = require.resolve("@pulumi/docker/package.json", { paths: [project.root] });
        const version = (JSON.parse(fs.readFileSync(manifest, "utf8")) as { version: string }).version;
        const plugins = path.join(process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi"), "plugins");
        if (!fs.existsSync(path.join(plugins, `resource-docker-v${version}`))) pulumi(["plugin", "install", "resource", "docker", version], project.root);
    }
    process.env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION = "true";
}

/**
 * Runs the CLI with the terminal as its own. Into a log (CI, a pipe, a file) the docker provider's build
 * progress lines, dozens per image, are dropped (buildProgress.ts); resolves with the exit code.
 */
function run(args: string[], cwd: string, reaped?: Set<number>): Promise<number> {
    const tty = process.stdout.isTTY === true;
    const child = spawn(process.env.PULUMI ?? "pulumi", args, { cwd, stdio: ["inherit", tty ? "inherit" : "pipe", tty ? "inherit" : "pipe"] });
    // Kept until it exits cleanly: if this process dies with it, the record proves its lock dead to a later recover.
    if (child.pid !== undefined) recordRun(child.pid);
    if (!tty) {
        for (const stream of [child.stdout!, child.stderr!]) {
            readline.createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
                const kept = withoutBuildProgress(line);
                if (kept !== undefined) process.stdout.write(`${kept}\n`);
            });
        }
    }
    return new Promise((resolve, reject) => {
        child.on("error", (e) => reject((e as NodeJS.ErrnoException).code === "ENOENT" ? new Error("the Pulumi CLI is not on PATH: install it or set PULUMI to its path") : e));
        child.on("close", (code) => {
            if (child.pid !== undefined) {
                reaped?.add(child.pid);
                if (code === 0) forgetRun(child.pid);
            }
            resolve(code ?? 1);
        });
    });
}

/** After a failed build: each app of the stack that does not compile, in the compiler's words. */
function explainFailure(project: Project, stack: string): void {
    let dirs: string[];
    try {
        dirs = Object.values(sourcesOf(project.root, stack).apps).map((d) => path.join(project.root, d));
    } catch {
        // A stack file that does not parse: the engine's own error said so.
        return;
    }
    const errors = compileErrors(dirs);
    if (errors) process.stderr.write(`\n${errors}\n`);
}

interface Parsed {
    project: Project;
    stack: string;
    /** What follows `--`: passed to the CLI as they are. */
    passed: string[];
}

function prepare(argv: string[]): Parsed {
    const dash = argv.indexOf("--");
    const own = dash === -1 ? argv : argv.slice(0, dash);
    const { values, switches } = parseArgs(own, ["--stack"], ["--create"]);
    const stack = required(values, "--stack");
    const project = findProject(process.cwd());
    const engine = spawnSync(process.env.DOCKER ?? "docker", ["version"], { stdio: "ignore" });
    if (!engine.error && engine.status !== 0) throw new Error("a Docker-target stack needs a running Docker engine: 'docker version' cannot reach one");
    selectStack(project, stack, switches.has("--create"));
    dockerProvider(project);
    return { project, stack, passed: dash === -1 ? [] : argv.slice(dash + 1) };
}

const OPTIONS = [
    "--create makes the stack when the backend has none; what follows -- goes to the Pulumi CLI as it is.",
    "The docker provider is installed once (the project's @pulumi/docker version, unless pulumi-resource-docker",
    "is on PATH) and the engine's automatic plugin fetching is turned off for the run.",
];

export const up: Verb = {
    summary: "pulumi up on a Docker-target stack: no preview, no refresh, recovery and one retry after a failure",
    help: [
        "usage: dockyard up --stack <name> [--create] [-- <pulumi up flags>]",
        "",
        "Runs `pulumi up --yes --skip-preview --refresh=false`: with --yes the preview would only print, and cost a",
        "second run of the program and of every changed build; a refresh would read every container and image again.",
        "After a failure it prints, for each app that does not compile, the Go compiler's own messages, recovers what",
        "an interrupted run left (dockyard recover) and, if it recovered anything, tries once more.",
        ...OPTIONS,
        "Exit codes: 0 deployed; 1 the update failed; 2 bad input or a failed check.",
    ].join("\n"),
    async run(argv) {
        const { project, stack, passed } = prepare(argv);
        // The CLIs this process saw exit: whatever lock they left, recover may remove.
        const reaped = new Set<number>();
        const update = () => run(["up", "--stack", stack, "--yes", "--skip-preview", "--refresh=false", ...passed], project.root, reaped);
        if ((await update()) === 0) return 0;
        explainFailure(project, stack);
        // An interrupted up leaves a container holding the port and a pending create; a failed one may have
        // left them too. What is provably this stack's is cleaned up, then one more try.
        const recovery = await recoverStack(stack, { force: false, projectDir: project.root, reaped });
        if (recovery.locks.length + recovery.resolutions.length + recovery.containers.length === 0) return 1;
        return (await update()) === 0 ? 0 : 1;
    },
};

export const preview: Verb = {
    summary: "pulumi preview on a Docker-target stack, building changed images as a pull request does",
    help: [
        "usage: dockyard preview --stack <name> [--create] [-- <pulumi preview flags>]",
        "",
        "Runs `pulumi preview --refresh=false`; after a failed build, each app that does not compile is named with",
        "the compiler's own file:line:column: message (the docker provider shows only `exit code: 1`).",
        ...OPTIONS,
        "Exit codes: 0 previewed; 1 the preview failed; 2 bad input or a failed check.",
    ].join("\n"),
    async run(argv) {
        const { project, stack, passed } = prepare(argv);
        if ((await run(["preview", "--stack", stack, "--refresh=false", ...passed], project.root)) === 0) return 0;
        explainFailure(project, stack);
        return 1;
    },
};

export const destroy: Verb = {
    summary: "pulumi destroy --yes on a Docker-target stack",
    help: ["usage: dockyard destroy --stack <name> [-- <pulumi destroy flags>]", "", ...OPTIONS, "Exit codes: 0 destroyed; 1 the destroy failed; 2 bad input or a failed check."].join("\n"),
    async run(argv) {
        const { project, stack, passed } = prepare(argv);
        return (await run(["destroy", "--stack", stack, "--yes", ...passed], project.root)) === 0 ? 0 : 1;
    },
};
