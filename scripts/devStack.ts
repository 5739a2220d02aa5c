// Housekeeping for a stack on the local Docker engine, run by scripts/dev.sh:
//   recover  remove what an interrupted or killed `pulumi up` left behind (a stale lock, a container
//            holding the port, pending operations), so the next one succeeds
//   prune    remove the image tags this stack no longer uses
// Both touch only what carries this stack's name: containers by their dockyard.dev/stack and
// dockyard.dev/project-dir labels (compose.ts sets them), images by the repositories the stack's outputs name.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The label compose.ts puts on every container of a Docker stack. */
const STACK_LABEL = "dockyard.dev/stack";
const PROJECT_DIR_LABEL = "dockyard.dev/project-dir";
const CONTAINER_TYPE = "docker:index/container:Container";
/** Where the embedded file backend (Pulumi.yaml) files this project's stacks. */
const ORGANIZATION = "organization";
const PROJECT = "dockyard";

/** The parts of `pulumi stack export` this script reads. */
export interface Deployment {
    deployment: {
        resources?: { type: string; id?: string; urn: string }[];
        pending_operations?: { type: string; resource: { type: string; urn: string } }[];
    };
}

/** A container of this stack on the engine, as `docker ps` lists it. */
export interface EngineContainer {
    id: string;
    name: string;
    state: string;
}

export interface RecoveryPlan {
    /** Containers the engine runs for this stack that the state does not know: an interrupted create made them. */
    orphans: EngineContainer[];
    /** Operations the state still marks as in progress. */
    pending: { type: string; urn: string }[];
}

/**
 * What an interrupted update left: its pending operations, and each labelled container the state
 * does not list (a create the engine never heard back from still holds the host port).
 */
export function planRecovery(state: Deployment, containers: EngineContainer[]): RecoveryPlan {
    const tracked = new Set((state.deployment.resources ?? []).filter((r) => r.type === CONTAINER_TYPE && r.id).map((r) => r.id as string));
    return {
        orphans: containers.filter((c) => !tracked.has(c.id)),
        pending: (state.deployment.pending_operations ?? []).map((op) => ({ type: op.type, urn: op.resource.urn })),
    };
}

/** The same deployment with no pending operations: what `pulumi stack import` takes back. */
export function withoutPendingOperations(state: Deployment): Deployment {
    return { ...state, deployment: { ...state.deployment, pending_operations: [] } };
}

/** One local tag of a repository, as `docker image ls` lists it. */
export interface LocalTag {
    repository: string;
    tag: string;
    /** When the image was created, as Docker prints it ("2026-11-25 12:18:09 +0000 UTC"). */
    created: string;
}

/**
 * The tags to remove: for every repository an image in use belongs to, all its tags but the ones
 * in use and the `keep` newest others (a quick way back to a recent build).
 */
export function tagsToPrune(tags: LocalTag[], inUse: string[], keep: number): LocalTag[] {
    const repositories = new Set(inUse.map(repositoryOf));
    const byNewest = [...tags].sort((a, b) => Date.parse(b.created.replace(/ [A-Z]+$/, "")) - Date.parse(a.created.replace(/ [A-Z]+$/, "")));
    const kept = new Map<string, number>();
    return byNewest.filter((t) => {
        if (!repositories.has(t.repository) || inUse.includes(`${t.repository}:${t.tag}`)) return false;
        const n = kept.get(t.repository) ?? 0;
        if (n < keep) {
            kept.set(t.repository, n + 1);
            return false;
        }
        return true;
    });
}

/** `dockyard/server:sha-…` → `dockyard/server`; a registry port is not a tag. */
export function repositoryOf(ref: string): string {
    const noDigest = ref.split("@")[0];
    const colon = noDigest.lastIndexOf(":");
    return colon > noDigest.lastIndexOf("/") ? noDigest.slice(0, colon) : noDigest;
}

/** The image refs a stack's `apps` output deploys. */
export function imagesInUse(apps: Record<string, { imageRef?: string }>): string[] {
    return Object.values(apps).flatMap((a) => (typeof a.imageRef === "string" ? [a.imageRef] : []));
}

function run(cmd: string, args: string[], input?: string, cwd?: string): string {
    return execFileSync(cmd, args, { encoding: "utf8", input, cwd, stdio: ["pipe", "pipe", "inherit"], maxBuffer: 64 << 20 });
}

function docker(args: string[]): string {
    return run(process.env.DOCKER ?? "docker", args);
}

/** The containers of this stack from this checkout (docker ANDs the two filters). */
function stackContainers(stackLabel: string, projectDir: string): EngineContainer[] {
    const filters = [`label=${STACK_LABEL}=${stackLabel}`, `label=${PROJECT_DIR_LABEL}=${projectDir}`].flatMap((f) => ["--filter", f]);
    const out = docker(["ps", "--all", "--no-trunc", ...filters, "--format", "{{.ID}}\t{{.Names}}\t{{.State}}"]);
    return out
        .split("\n")
        .filter(Boolean)
        .map((line) => {
            const [id, name, state] = line.split("\t");
            return { id, name, state };
        });
}

/** A lock of the file backend, as the CLI writes it while an update runs and deletes it after. */
export interface StackLock {
    pid: number;
    hostname: string;
    timestamp: string;
}

/**
 * Which locks a killed update left behind: taken on this host by a process that no longer runs. Any
 * other lock may belong to an update still under way, and is never removed.
 */
export function staleLocks(locks: StackLock[], host: string, isRunning: (pid: number) => boolean): { stale: StackLock[]; live: StackLock[] } {
    const stale = locks.filter((l) => l.hostname === host && !isRunning(l.pid));
    return { stale, live: locks.filter((l) => !stale.includes(l)) };
}

/** Whether a process with this pid runs on this host (one of another user counts too). */
export function isRunning(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** The stack's locks on the project's embedded file backend (Pulumi.yaml); none to read on any other. */
function fileBackendLocks(stack: string, projectDir: string): StackLock[] {
    if (process.env.PULUMI_BACKEND_URL) return [];
    const dir = path.join(projectDir, ".pulumi-state", ".pulumi", "locks", ORGANIZATION, PROJECT, stack);
    if (!fs.existsSync(dir)) return [];
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".json"))
        .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as StackLock);
}

/** Removes the locks of updates that were killed; refuses while one may still run. */
function clearStaleLocks(stack: string, projectDir: string, log: (line: string) => void): StackLock[] {
    const { stale, live } = staleLocks(fileBackendLocks(stack, projectDir), os.hostname(), isRunning);
    if (live.length > 0) {
        const who = live.map((l) => `pid ${l.pid} on ${l.hostname} since ${l.timestamp}`).join(", ");
        throw new Error(`stack ${stack} is being updated (${who}): let that finish or stop it, then recover again`);
    }
    if (stale.length > 0) {
        // Deletes every lock of the stack: safe now that none belongs to a running process.
        run("pulumi", ["cancel", "--yes", "--stack", stack], undefined, projectDir);
        for (const l of stale) log(`removed the lock of pid ${l.pid} (${l.timestamp}): that update was killed`);
    }
    return stale;
}

export function recover(stack: string, stackLabel: string, projectDir: string, log: (line: string) => void = console.log): RecoveryPlan {
    const locks = clearStaleLocks(stack, projectDir, log);
    const state = JSON.parse(run("pulumi", ["stack", "export", "--stack", stack], undefined, projectDir)) as Deployment;
    const plan = planRecovery(state, stackContainers(stackLabel, projectDir));
    for (const c of plan.orphans) {
        docker(["rm", "--force", c.id]);
        log(`removed container ${c.name} (${c.state}): an interrupted update created it, the state does not know it`);
    }
    if (plan.pending.length > 0) {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-recover-")), "state.json");
        fs.writeFileSync(file, JSON.stringify(withoutPendingOperations(state)));
        run("pulumi", ["stack", "import", "--stack", stack, "--file", file], undefined, projectDir);
        fs.rmSync(path.dirname(file), { recursive: true });
        for (const op of plan.pending) log(`cleared pending ${op.type} of ${op.urn}`);
    }
    if (locks.length === 0 && plan.orphans.length === 0 && plan.pending.length === 0) log(`nothing to recover: stack ${stack} and the engine agree`);
    return plan;
}

export function prune(stack: string, keep: number): LocalTag[] {
    const apps = JSON.parse(run("pulumi", ["stack", "output", "apps", "--json", "--stack", stack])) as Record<string, { imageRef?: string }>;
    const inUse = imagesInUse(apps);
    const tags: LocalTag[] = [];
    for (const repository of new Set(inUse.map(repositoryOf))) {
        for (const line of docker(["image", "ls", repository, "--format", "{{.Tag}}\t{{.CreatedAt}}"]).split("\n").filter(Boolean)) {
            const [tag, created] = line.split("\t");
            if (tag !== "<none>") tags.push({ repository, tag, created });
        }
    }
    const removed: LocalTag[] = [];
    for (const t of tagsToPrune(tags, inUse, keep)) {
        try {
            // No --force: the engine refuses a tag a container still uses, and that refusal is right.
            execFileSync(process.env.DOCKER ?? "docker", ["image", "rm", `${t.repository}:${t.tag}`], { stdio: ["ignore", "ignore", "pipe"] });
            removed.push(t);
        } catch (e) {
            console.log(`kept ${t.repository}:${t.tag}: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
        }
    }
    console.log(`removed ${removed.length} image tag(s); kept ${inUse.join(", ")}${keep > 0 ? ` and the ${keep} newest other tag(s) per app` : ""}`);
    return removed;
}

/** The label compose.ts gives a stack's containers: `DOCKYARD_STACK_LABEL` (tests), else organization/project/stack. */
export function stackLabelOf(stack: string): string {
    return process.env.DOCKYARD_STACK_LABEL ?? `${ORGANIZATION}/${PROJECT}/${stack}`;
}

function main(argv: string[]): void {
    const [verb, stack, ...rest] = argv;
    const stackLabel = stackLabelOf(stack);
    if (verb === "recover" && stack) {
        recover(stack, stackLabel, process.cwd());
        return;
    }
    if (verb === "prune" && stack) {
        const keepAt = rest.indexOf("--keep");
        const keep = keepAt === -1 ? 0 : Number(rest[keepAt + 1]);
        if (!Number.isInteger(keep) || keep < 0) throw new Error(`--keep ${rest[keepAt + 1]}: want a whole number of tags to keep besides those in use, e.g. --keep 2`);
        prune(stack, keep);
        return;
    }
    throw new Error("usage: devStack.ts recover <stack> | prune <stack> [--keep N]");
}

if (require.main === module) {
    try {
        main(process.argv.slice(2));
    } catch (e) {
        console.error((e as Error).message);
        process.exit(1);
    }
}
