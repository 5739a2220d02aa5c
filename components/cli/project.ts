// What every verb needs first: the Pulumi project it runs in (one that uses @dockyard/components), the
// Pulumi CLI, the stack it names, and the project's own program, loaded as Pulumi loads it.
import type * as automation from "@pulumi/pulumi/automation";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/** Bad input: the verb did nothing. Exit code 2, with the verb's usage. */
export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

export interface Project {
    /** The directory holding Pulumi.yaml. */
    root: string;
    /** Pulumi.yaml's `name`. */
    name: string;
}

const PACKAGE = "@dockyard/components";

/**
 * The Pulumi project at or above `dir` whose package.json depends on @dockyard/components; refuses, naming
 * what it found, a folder outside any project or a project that does not use the components.
 */
export function findProject(dir: string): Project {
    let root = path.resolve(dir);
    while (!fs.existsSync(path.join(root, "Pulumi.yaml"))) {
        const up = path.dirname(root);
        if (up === root) throw new UsageError(`no Pulumi.yaml in ${path.resolve(dir)} or above it: run dockyard inside a Pulumi project`);
        root = up;
    }
    const name = projectName(root);
    const manifest = path.join(root, "package.json");
    const pkg = fs.existsSync(manifest) ? (JSON.parse(fs.readFileSync(manifest, "utf8")) as Record<string, Record<string, string> | undefined>) : {};
    const uses = ["dependencies", "devDependencies"].some((field) => pkg[field]?.[PACKAGE] !== undefined);
    if (!uses) throw new UsageError(`project ${name} (${root}) does not use ${PACKAGE}: its package.json lists it in neither dependencies nor devDependencies`);
    return { root, name };
}

/** Pulumi.yaml's `name` in `root`. */
export function projectName(root: string): string {
    const name = (parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as { name?: unknown } | null)?.name;
    if (typeof name !== "string") throw new UsageError(`${path.join(root, "Pulumi.yaml")} has no project name`);
    return name;
}

/** Runs the Pulumi CLI in the project; throws with its own words when it fails or is missing. */
export function pulumi(args: string[], cwd: string): string {
    const r = spawnSync(process.env.PULUMI ?? "pulumi", args, { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new Error("the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/iac/download-install/) or set PULUMI to its path");
    }
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed: ${`${r.stderr}${r.stdout}`.trim()}`);
    return r.stdout;
}

/** Refuses a stack the backend does not have, naming the ones it has. */
export function requireStack(project: Project, stack: string): void {
    const stacks = (JSON.parse(pulumi(["stack", "ls", "--json"], project.root)) as { name: string }[]).map((s) => s.name);
    if (stacks.some((s) => s === stack || s.endsWith(`/${stack}`))) return;
    throw new UsageError(`--stack ${stack}: project ${project.name} has no such stack on this backend (it has: ${stacks.join(", ") || "none"})`);
}

/** The stack, made first when `create` (`--create`: the dev loop's first command), else refused when missing. */
export function selectStack(project: Project, stack: string, create: boolean): void {
    if (create) pulumi(["stack", "select", stack, "--create", "--non-interactive"], project.root);
    else requireStack(project, stack);
}

/** `--name value` flags and bare `--switch`es, as a verb declares them; anything else is refused by name. */
export function parseArgs(argv: string[], values: string[], switches: string[] = []): { values: Record<string, string>; switches: Set<string> } {
    const out = { values: {} as Record<string, string>, switches: new Set<string>() };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (switches.includes(arg)) out.switches.add(arg);
        else if (values.includes(arg)) {
            const value = argv[++i];
            if (value === undefined || value.startsWith("--")) throw new UsageError(`${arg} needs a value`);
            out.values[arg] = value;
        } else throw new UsageError(`not understood: ${arg}`);
    }
    return out;
}

/** The value of a required flag. */
export function required(values: Record<string, string>, flag: string): string {
    const value = values[flag];
    if (value === undefined) throw new UsageError(`${flag} is required`);
    return value;
}

/**
 * The project's program, loaded afresh as Pulumi's Node.js host loads it: its entry point (package.json's
 * `main`, else `index`; TypeScript through the project's ts-node), whose export is the program function or
 * its outputs. The project's own modules leave the require cache first, so a second load sees new code.
 */
export function projectProgram(root: string): automation.PulumiFn {
    const own = (file: string) => file.startsWith(root + path.sep) && !file.includes(`${path.sep}node_modules${path.sep}`);
    for (const file of Object.keys(require.cache)) if (own(file)) delete require.cache[file];
    registerTypeScript(root);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const entry = require(require.resolve(root)) as { default?: unknown } | (() => unknown);
    const exported = typeof entry === "object" && entry !== null && "default" in entry ? entry.default : entry;
    return async () => (typeof exported === "function" ? await (exported as () => unknown)() : exported) as Record<string, unknown>;
}

let typeScript = false;

/** TypeScript entry points compile on load, with the project's own ts-node, as the Node.js host does. */
function registerTypeScript(root: string): void {
    if (typeScript || require.extensions[".ts"]) return;
    let tsNode: string;
    try {
        tsNode = require.resolve("ts-node", { paths: [root] });
    } catch {
        return;
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require(tsNode) as { register(opts: object): void }).register({ transpileOnly: true, projectSearchDir: root });
    typeScript = true;
}
