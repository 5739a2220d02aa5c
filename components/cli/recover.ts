// dockyard recover --stack <stack> [--force]: makes a stack deployable again after a
// deploy died (a killed runner, a timed-out job, Ctrl-C twice), on a Docker or a Kubernetes stack and on any
// backend the CLI reaches, with one code path and the CLI's own commands:
//   1. the lock is read from the backend's own refusal. It goes only when its holder is proven gone: this
//      process reaped it, or a dockyard command of this pid namespace recorded starting it and it no longer runs
//      (runRecords.ts); any other, only with --force. A live holder, or a lock line that cannot be read, is named
//      and left alone; Pulumi Cloud's refusal, which names no lock, is left to `pulumi cancel`. The dead lock itself is deleted (file and S3 backends), not
//      every lock of the stack, so a deploy that started meanwhile keeps its own.
//   2. each pending create is resolved: on Kubernetes, an object the dead run made (it names this stack in
//      STACK_ANNOTATION) is taken into the state under its ID (`pulumi stack import` of the state with that
//      create made a resource: the CLI's `refresh --import-pending-creates` drops the create without importing
//      it), anything else is left alone and its pending create dropped (`--clear-pending-creates`), and
//      `pulumi refresh` reads the whole state from the cluster. On Docker only the pending operations are
//      dropped (the containers are read by the next `up`), and the containers the dead run created, which the
//      state does not know, are removed: the one holding a fixed host port would block the next `up`.
import type * as S3 from "@aws-sdk/client-s3";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { type ClusterObject, type ClusterSettings, kubectlGet, notOurs, pluralOf } from "../internal/cluster";
import { STACK_ANNOTATION, namesStack } from "../internal/stack";
import { type Deployment, orphanContainers, removeContainers, stackContainers } from "./containers";
import { findProject, parseArgs, pulumi, required, selectStack } from "./project";
import { type RunRecord, findRun, forgetRun, startTime } from "./runRecords";
import type { Verb } from "./verb";

/** A lock as the backend names it when it refuses to start: where it is, who took it, where and when. */
export interface NamedLock {
    /** The lock object: `file:///…/<id>.json`, `s3://bucket/…/<id>.json?endpoint=…`. */
    url: string;
    username: string;
    hostname: string;
    pid: number;
    timestamp: string;
}

/** The locks a refusal names, and the lines of it that do not read as a lock. */
export interface LockReading {
    locks: NamedLock[];
    unreadable: string[];
}

/**
 * The locks a "stack is currently locked by N lock(s)" refusal names, one line each
 * (`  <url>: created by <user>@<host> (pid <n>) at <time>`); undefined when the text is no such refusal. A user
 * name may hold spaces; a line that reads otherwise, or a count the lines do not reach, is unreadable.
 */
export function locksInError(message: string): LockReading | undefined {
    const header = /currently locked by (\d+) lock\(s\)[^\n]*/.exec(message);
    if (!header) return undefined;
    const named = Number(header[1]);
    const lines = message.slice(header.index + header[0].length).split("\n").filter((l) => l.trim() !== "").slice(0, named);
    const reading: LockReading = { locks: [], unreadable: [] };
    for (const line of lines) {
        const m = /^\s+(\S+): created by (.+)@([^@\s]+) \(pid (\d+)\) at (\S+)\s*$/.exec(line);
        if (m) reading.locks.push({ url: m[1], username: m[2], hostname: m[3], pid: Number(m[4]), timestamp: m[5] });
        else reading.unreadable.push(line.trim());
    }
    if (lines.length < named) reading.unreadable.push(`(the backend names ${named} lock(s), ${lines.length} line(s) follow)`);
    return reading;
}

/** What recover knows of the processes on this host, for `lockVerdict`. */
export interface HolderChecks {
    /** This host's name, as the CLI writes it in a lock. */
    host: string;
    /** Whether a process of this pid runs in this pid namespace. */
    running: (pid: number) => boolean;
    /** A running process's start time, where the system tells (Linux). */
    startTime: (pid: number) => string | undefined;
    /** The record of a CLI that a dockyard command started in this pid namespace since this boot (runRecords.ts). */
    record: (pid: number) => RunRecord | undefined;
    /** The CLIs this process itself started and saw exit. */
    reaped: ReadonlySet<number>;
}

/**
 * Whether the locks may go. A holder is proven gone when this process started it and saw it exit, or when a
 * dockyard command of this pid namespace recorded starting it and that process no longer runs (its pid gone, or
 * another process under it). A pid that merely does not run here proves nothing: a deploy in a container with
 * this host's name runs in another pid namespace. That lock, and another host's, go only with `force`. A live
 * holder, or a lock that cannot be read, keeps them all.
 */
export function lockVerdict(reading: LockReading, checks: HolderChecks, force: boolean): { removable: boolean; refusals: string[] } {
    const refusals = [
        ...reading.unreadable.map((line) => `a lock recover cannot read, so it cannot tell whether its deploy stopped: ${line}`),
        ...reading.locks.flatMap((l) => {
            const who = `pid ${l.pid} of ${l.username}@${l.hostname}, since ${l.timestamp}`;
            if (l.hostname !== checks.host) {
                return force ? [] : [`locked by another machine: ${who}. Recover cannot tell from here whether it still runs; once you know it stopped, run recover again with --force`];
            }
            if (checks.reaped.has(l.pid)) return [];
            const record = checks.record(l.pid);
            const live = record ? checks.startTime(l.pid) === record.startTime : checks.running(l.pid);
            if (live) return [`a deploy is running: ${who}. Let it finish or stop it, then recover again`];
            if (record || force) return [];
            return [
                `locked by ${who}, which does not run in this pid namespace, but no dockyard command here started it: a deploy in a container ` +
                    `that shares this host's name runs in another pid namespace. Once you know it stopped, run recover again with --force`,
            ];
        }),
    ];
    return { removable: refusals.length === 0, refusals };
}

/** The checks of this host, for a process that reaped the CLIs `reaped`. */
export function hostChecks(reaped: ReadonlySet<number> = new Set()): HolderChecks {
    return { host: os.hostname(), running: isRunning, startTime, record: findRun, reaped };
}

/**
 * Pulumi Cloud's refusal of an update while another holds the stack: it names no lock that could be checked,
 * so recover says so and leaves it to `pulumi cancel`. Undefined for any other text.
 */
export function cloudConflict(message: string): string | undefined {
    return /\[409\] Conflict: Another update is currently in progress[^\n]*/.exec(message)?.[0].trim();
}

/** The file a `file://` lock URL names: absolute, or relative to the project (Pulumi.yaml's `file://./.pulumi-state`). */
export function lockFile(url: string, projectDir: string): string {
    const rest = decodeURIComponent(url.slice("file://".length).split("?")[0]);
    return path.isAbsolute(rest) ? rest : path.resolve(projectDir, rest);
}

/** Bucket, key and client settings of an `s3://` lock URL, as the CLI's own S3 driver reads its query. */
export function s3Lock(url: string): { bucket: string; key: string; endpoint?: string; region?: string; forcePathStyle: boolean } {
    const u = new URL(url);
    return {
        bucket: u.hostname,
        key: decodeURIComponent(u.pathname.replace(/^\//, "")),
        endpoint: u.searchParams.get("endpoint") ?? undefined,
        region: u.searchParams.get("region") ?? undefined,
        forcePathStyle: ["true", "1"].includes(u.searchParams.get("use_path_style") ?? u.searchParams.get("s3ForcePathStyle") ?? ""),
    };
}

/**
 * Deletes exactly these locks where the backend is one this can write (file, S3), so a deploy that took the
 * stack meanwhile keeps its lock; elsewhere `pulumi cancel`, which deletes every lock of the stack.
 */
async function removeLocks(stack: string, locks: NamedLock[], projectDir: string): Promise<void> {
    if (locks.every((l) => l.url.startsWith("file://") || l.url.startsWith("s3://"))) {
        for (const l of locks) {
            if (l.url.startsWith("file://")) {
                fs.rmSync(lockFile(l.url, projectDir), { force: true });
                continue;
            }
            const { bucket, key, endpoint, region, forcePathStyle } = s3Lock(l.url);
            const { DeleteObjectCommand, S3Client } = s3Sdk();
            const s3 = new S3Client({ endpoint, region: region ?? process.env.AWS_REGION ?? "us-east-1", forcePathStyle });
            try {
                await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
            } finally {
                s3.destroy();
            }
        }
        return;
    }
    pulumi(["cancel", "--yes", "--stack", stack], projectDir);
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

/**
 * The AWS SDK's S3 client, an optional peer: needed only to delete a dead lock in an S3 backend, so a project
 * on another backend does not install it.
 */
function s3Sdk(): typeof S3 {
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return require("@aws-sdk/client-s3") as typeof S3;
    } catch {
        throw new Error("removing a lock in an S3 backend needs @aws-sdk/client-s3: npm install @aws-sdk/client-s3");
    }
}

/** A pending operation as `pulumi stack export` writes it. */
export interface PendingOperation {
    type: string;
    resource: StateResource & { inputs?: { metadata?: { name?: string; namespace?: string } } };
}

/** `pulumi stack export`'s output, as far as recover reads or writes it; every other field is kept as it is. */
export type ExportedState = Deployment & {
    deployment: { resources?: StateResource[]; pending_operations?: PendingOperation[] };
};

/** A resource of the exported state, as far as recover orders it: what it refers to must come before it. */
interface StateResource {
    urn: string;
    type: string;
    id?: string;
    delete?: boolean;
    parent?: string;
    /** `<provider URN>::<provider ID>`. */
    provider?: string;
    dependencies?: string[];
    propertyDependencies?: Record<string, string[]>;
    deletedWith?: string;
}

/** The cluster object a pending Kubernetes create was making; undefined for other types or unnamed objects. */
export function pendingObject(op: PendingOperation): { kubectl: string; kind: string; name: string; namespace?: string } | undefined {
    const m = /^kubernetes:([a-z0-9.-]+)\/([a-z0-9]+):([A-Za-z]+)$/.exec(op.resource.type);
    const name = op.resource.inputs?.metadata?.name;
    if (!m || !name) return undefined;
    const [, group, version, kind] = m;
    const plural = pluralOf(kind);
    return { kubectl: `${group === "core" ? plural : `${plural}.${version}.${group}`}/${name}`, kind, name, namespace: kind === "Namespace" ? undefined : op.resource.inputs?.metadata?.namespace };
}

/** What recover does with one pending create. */
export type Resolution = { urn: string; action: "import"; id: string; what: string } | { urn: string; action: "clear"; why: string };

/**
 * Each pending create, resolved against what the cluster holds (`found`, by URN; undefined where nothing
 * exists): ours is imported under the provider's ID (`namespace/name`, or `name` for a Namespace), anything
 * else is dropped from the state and left in the cluster.
 */
export function resolvePendingCreates(pending: PendingOperation[], found: Map<string, ClusterObject | undefined>, stack: string): Resolution[] {
    return pending
        .filter((op) => op.type === "creating")
        .map((op): Resolution => {
            const urn = op.resource.urn;
            const target = pendingObject(op);
            const object = found.get(urn);
            if (!target) return { urn, action: "clear", why: `${op.resource.type} is not a named Kubernetes object: the next up makes it again` };
            if (!object) return { urn, action: "clear", why: `${target.kind} ${target.name} does not exist: the dead run never made it` };
            const where = object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name;
            // An object that names this stack was made by one of its runs; the legacy labels do not count here.
            if (namesStack(object.metadata.annotations?.[STACK_ANNOTATION], stack)) return { urn, action: "import", id: where, what: `${target.kind} ${where}` };
            const reason = notOurs(object, { apiVersion: "", kind: target.kind, name: target.name, instance: "" }, stack) ?? `it does not name this stack in ${STACK_ANNOTATION}`;
            return { urn, action: "clear", why: `${target.kind} ${where} exists but is not this stack's (${reason}): left alone` };
        });
}

/**
 * The state with each pending create recover takes back made a resource under the provider's ID, and every
 * resolved pending create gone. Pulumi's own
 * `refresh --import-pending-creates` (CLI 3.276) drops such a create without importing it: the next `up` then
 * makes the object again, which a plain create (the stack's Namespace) refuses with AlreadyExists. The refresh
 * that follows reads each taken object's outputs from the cluster.
 *
 * A create that was replacing a resource still in the state: under the same ID (delete before replace: a Job
 * that keeps its name) the old object is gone and the taken one takes its entry's place; under another ID
 * (create before delete) the old object is still there, and its entry is marked for the next `up` to delete.
 * The CLI refuses a state where a resource comes before what it refers to: the result is put in that order.
 */
export function withTakenObjects(state: ExportedState, resolutions: Resolution[]): ExportedState {
    const taken = new Map(resolutions.flatMap((r) => (r.action === "import" ? [[r.urn, r.id] as const] : [])));
    const resolved = new Set(resolutions.map((r) => r.urn));
    const pending = state.deployment.pending_operations ?? [];
    const resources = [...(state.deployment.resources ?? [])];
    for (const op of pending) {
        const id = op.type === "creating" ? taken.get(op.resource.urn) : undefined;
        if (id === undefined) continue;
        const old = resources.findIndex((r) => r.urn === op.resource.urn && !r.delete);
        if (old !== -1 && resources[old].id === id) {
            resources[old] = { ...op.resource, id };
            continue;
        }
        if (old !== -1) resources[old] = { ...resources[old], delete: true };
        resources.push({ ...op.resource, id });
    }
    return {
        ...state,
        deployment: {
            ...state.deployment,
            resources: inDependencyOrder(resources),
            pending_operations: pending.filter((o) => !(o.type === "creating" && resolved.has(o.resource.urn))),
        },
    };
}

/** `resources` with each after everything it refers to; an order that already is one stays as it is. */
function inDependencyOrder(resources: StateResource[]): StateResource[] {
    const byUrn = new Map<string, StateResource[]>();
    for (const r of resources) byUrn.set(r.urn, [...(byUrn.get(r.urn) ?? []), r]);
    const ordered: StateResource[] = [];
    const seen = new Set<StateResource>();
    const place = (r: StateResource): void => {
        if (seen.has(r)) return;
        seen.add(r);
        const provider = r.provider?.slice(0, r.provider.lastIndexOf("::"));
        const refs = [r.parent, provider, r.deletedWith, ...(r.dependencies ?? []), ...Object.values(r.propertyDependencies ?? {}).flat()];
        for (const urn of refs) for (const dep of (urn && urn !== r.urn && byUrn.get(urn)) || []) place(dep);
        ordered.push(r);
    };
    resources.forEach(place);
    return ordered;
}

/**
 * The refresh that settles the rest. With `readNothing` (a Docker stack) it reads no resource and only
 * settles the pending operations.
 */
export function refreshArgs(stack: string, resolutions: Resolution[], readNothing = false): string[] {
    const clear = resolutions.some((r) => r.action === "clear") ? ["--clear-pending-creates"] : [];
    const exclude = readNothing ? ["--exclude", "**"] : [];
    return ["refresh", "--stack", stack, "--yes", "--skip-preview", "--non-interactive", "--color", "never", ...clear, ...exclude];
}

/** What recover did. */
export interface Recovery {
    locks: NamedLock[];
    resolutions: Resolution[];
    /** Containers removed (Docker stacks). */
    containers: string[];
}

export interface RecoverOptions {
    /**
     * Let a lock go whose holder recover cannot prove gone: another machine's, or one of this host's name that no
     * dockyard command here started (once you know its deploy stopped). On Pulumi Cloud: `pulumi cancel`.
     */
    force: boolean;
    /** Pids of the Pulumi CLIs this process started and saw exit: their locks are dead. Default: none. */
    reaped?: ReadonlySet<number>;
    /** The project directory. Default: the current one. */
    projectDir?: string;
    log?: (line: string) => void;
}

/** Makes the stack deployable again, or throws naming what it left alone and why; changes nothing it may not. */
export async function recoverStack(stack: string, opts: RecoverOptions): Promise<Recovery> {
    const dir = opts.projectDir ?? process.cwd();
    const log = opts.log ?? console.log;
    const raw = JSON.parse(pulumi(["config", "--json", "--show-secrets", "--stack", stack], dir)) as Record<string, { value?: string }>;
    const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v.value]));
    const fullName = pulumi(["stack", "--stack", stack, "--show-name", "--fully-qualify-stack-names"], dir).trim();
    const exported = () => JSON.parse(pulumi(["stack", "export", "--stack", stack], dir)) as ExportedState;
    const before = exported();
    const pending = before.deployment.pending_operations ?? [];
    // A Kubernetes-target stack's state or pending operations hold Kubernetes objects; any other (a Docker
    // stack, or one with nothing deployed yet) is read as a Docker stack, whose containers are checked.
    const docker = ![...(before.deployment.resources ?? []), ...pending.map((o) => o.resource)].some((r) => r.type.startsWith("kubernetes:"));

    const found = new Map<string, ClusterObject | undefined>();
    if (!docker) {
        const settings: ClusterSettings = { kubeconfig: config["kubernetes:kubeconfig"], context: config["kubernetes:context"], cluster: config["kubernetes:cluster"] };
        for (const op of pending.filter((o) => o.type === "creating")) {
            const target = pendingObject(op);
            if (!target) continue;
            const args = ["get", target.kubectl, "--ignore-not-found", ...(target.namespace ? ["--namespace", target.namespace] : [])];
            found.set(op.resource.urn, (await kubectlGet(args, settings, `look up what a pending create of ${op.resource.urn} made`))[0]);
        }
    }
    const resolutions = docker
        ? pending.filter((o) => o.type === "creating").map((o): Resolution => ({ urn: o.resource.urn, action: "clear", why: "the next up makes it again" }))
        : resolvePendingCreates(pending, found, fullName);
    // On Docker, a refresh that reads nothing (the next up reads the containers): it settles the pending
    // operations, and like any locking command it is refused while the stack is locked.
    // Reading nothing, it needs no provider: none is fetched.
    const env = docker ? { ...process.env, PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" } : process.env;
    const cli = (args: string[]) => ({ ...spawnSync(process.env.PULUMI ?? "pulumi", args, { cwd: dir, env, encoding: "utf8", maxBuffer: 64 << 20 }), command: `pulumi ${args[0] === "stack" ? args.slice(0, 2).join(" ") : args[0]}` });
    const runRefresh = () => {
        if (resolutions.some((r) => r.action === "import")) {
            // Exported again here: the first try may have stopped at the dead lock, and the state is that of now.
            const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-recover-")), "state.json");
            try {
                fs.writeFileSync(file, JSON.stringify(withTakenObjects(exported(), resolutions)), { mode: 0o600 });
                const imported = cli(["stack", "import", "--stack", stack, "--file", file]);
                if (imported.status !== 0) return imported;
            } finally {
                fs.rmSync(path.dirname(file), { recursive: true, force: true });
            }
        }
        return cli(refreshArgs(stack, resolutions, docker));
    };

    let refresh = runRefresh();
    const refused = refresh.status !== 0 ? `${refresh.stdout}${refresh.stderr}` : "";
    const reading = locksInError(refused);
    const locks = reading?.locks ?? [];
    const conflict = cloudConflict(refused);
    if (conflict && !opts.force) {
        throw new Error(
            `stack ${stack} was not touched: Pulumi Cloud says another update holds it ("${conflict}"); it names no holder recover could check ` +
                `(the stack's activity in Pulumi Cloud shows who and since when). Once you know that update stopped, pulumi cancel --stack ${stack} ` +
                `frees it, or run recover again with --force, which runs it`,
        );
    }
    if (conflict) {
        pulumi(["cancel", "--yes", "--stack", stack], dir);
        log(`cancelled the update Pulumi Cloud held stack ${stack} for (--force)`);
        refresh = runRefresh();
    } else if (reading) {
        const verdict = lockVerdict(reading, hostChecks(opts.reaped), opts.force);
        if (!verdict.removable) throw new Error(`stack ${stack} was not touched: ${verdict.refusals.join("; ")}`);
        await removeLocks(stack, locks, dir);
        for (const l of locks) {
            forgetRun(l.pid);
            log(`removed the lock of pid ${l.pid} of ${l.username}@${l.hostname} (since ${l.timestamp}): that deploy is not running`);
        }
        refresh = runRefresh();
    }
    if (refresh.status !== 0) throw new Error(`${refresh.command} failed for stack ${stack}:\n${refresh.stdout}${refresh.stderr}`);
    for (const r of resolutions) log(r.action === "import" ? `took ${r.what} into the state: a dead run of this stack made it` : `cleared the pending create of ${r.urn}: ${r.why}`);

    const after = exported();
    const left = after.deployment.pending_operations ?? [];
    if (left.length > 0) throw new Error(`stack ${stack} still has pending operations after the refresh: ${left.map((o) => `${o.type} ${o.resource.urn}`).join(", ")}`);

    const containers: string[] = [];
    if (docker) {
        for (const c of removeContainers(orphanContainers(after, stackContainers(fullName, dir)))) {
            containers.push(c.name);
            log(`removed container ${c.name} (${c.state}): an interrupted update created it, the state does not know it`);
        }
    }
    if (locks.length === 0 && pending.length === 0 && containers.length === 0) {
        log(`nothing to recover: stack ${stack} ${docker ? "and the engine agree" : "has no lock and no pending operation; state refreshed from the cluster"}`);
    } else {
        const summary = !docker ? /Resources:[\s\S]*?(?=\n\n|$)/.exec(refresh.stdout)?.[0].replace(/\s+/g, " ").trim() : undefined;
        log(`stack ${stack} is deployable: ${pending.length} pending operation(s) resolved${docker ? "" : ", state refreshed from the cluster"}${summary ? ` (${summary})` : ""}`);
    }
    return { locks, resolutions, containers };
}

const USAGE = "usage: dockyard recover --stack <name> [--force] [--create]";

export const recover: Verb = {
    summary: "make a stack deployable again after a deploy died: its dead lock, pending operations, orphan containers",
    help: [
        USAGE,
        "",
        "After a deploy was killed (a cancelled CI job, Ctrl-C twice): removes the stack's lock once its holder is",
        "proven gone (a dockyard command of this pid namespace started it and it no longer runs; any other lock, such",
        "as another host's or a container's that shares this host's name, only with --force), resolves each",
        "pending create (on Kubernetes, an object the dead run made, named by its dockyard.dev/stack annotation, is",
        "taken into the state; anything else is left alone) and refreshes the state; on Docker it removes the",
        "containers the dead run created that the state does not know. A live or unreadable lock is left alone. On",
        "Pulumi Cloud, whose refusal names no lock, it says so and changes nothing; --force runs pulumi cancel.",
        "--create makes the stack when the backend has none (the dev loop's first command may be this one).",
        "Exit codes: 0 deployable (or nothing to recover); 1 left alone, with the reason; 2 bad input or a failed check.",
    ].join("\n"),
    async run(argv) {
        const { values, switches } = parseArgs(argv, ["--stack"], ["--force", "--create"]);
        const stack = required(values, "--stack");
        const project = findProject(process.cwd());
        selectStack(project, stack, switches.has("--create"));
        try {
            await recoverStack(stack, { force: switches.has("--force"), projectDir: project.root });
            return 0;
        } catch (e) {
            console.error((e as Error).message);
            return 1;
        }
    },
};
