// npm run recover -- --stack <stack> [--force]: makes a stack deployable again after a deploy died (a killed
// runner, a timed-out job), on any backend the CLI reaches (file, S3, …), with the CLI's own mechanisms:
//   1. its stale lock goes with `pulumi cancel`, but only when the holder cannot still be running: on this
//      host its pid is gone; on another host, only with --force. A live holder is named and left alone.
//   2. each pending create is resolved by looking at the cluster: an object the dead run made that names
//      this stack (STACK_ANNOTATION) is taken into the state (`refresh --import-pending-creates`); anything
//      else is left alone and reported, and the pending create dropped (`--clear-pending-creates`).
//   3. the refresh then brings the rest of the state in line with the cluster.
// A Docker stack (dev) goes through scripts/devStack.ts, which also removes the containers a dead run left.
import { STACK_ANNOTATION } from "@dockyard/components";
import { execFileSync, spawnSync } from "child_process";
import * as os from "os";
import { type ClusterObject, type ClusterSettings, kubectlGet, notOurs } from "../ownership";
import { type StackLock, isRunning, recover as recoverDockerStack } from "./devStack";

/** A lock as the CLI names it when it refuses to start: who took it, where and when. */
export interface NamedLock extends StackLock {
    username: string;
}

/** The locks a "stack is currently locked" error names (`…: created by root@vm (pid 11885) at 2026-…`). */
export function locksInError(message: string): NamedLock[] {
    return [...message.matchAll(/: created by ([^@\s]+)@(\S+) \(pid (\d+)\) at (\S+)/g)].map((m) => ({ username: m[1], hostname: m[2], pid: Number(m[3]), timestamp: m[4] }));
}

/**
 * Whether the locks may be removed. A holder on this host is dead once its pid is gone; one on another host
 * cannot be checked from here, so only `force` removes its lock. Any live holder refuses them all.
 */
export function lockVerdict(locks: NamedLock[], host: string, running: (pid: number) => boolean, force: boolean): { removable: boolean; refusals: string[] } {
    const refusals = locks.flatMap((l) => {
        const who = `pid ${l.pid} of ${l.username}@${l.hostname}, since ${l.timestamp}`;
        if (l.hostname === host) return running(l.pid) ? [`a deploy is running: ${who}. Let it finish or stop it, then recover again`] : [];
        return force ? [] : [`locked by another machine: ${who}. Recover cannot tell from here whether it still runs; once you know it stopped, run recover again with --force`];
    });
    return { removable: refusals.length === 0, refusals };
}

/** A pending operation as `pulumi stack export` writes it. */
export interface PendingOperation {
    type: string;
    resource: { urn: string; type: string; inputs?: { metadata?: { name?: string; namespace?: string } } };
}

/** The cluster object a pending Kubernetes create was making; undefined for other types or unnamed objects. */
export function pendingObject(op: PendingOperation): { kubectl: string; kind: string; name: string; namespace?: string } | undefined {
    const m = /^kubernetes:([a-z0-9.]+)\/([a-z0-9]+):([A-Za-z]+)$/.exec(op.resource.type);
    const name = op.resource.inputs?.metadata?.name;
    if (!m || !name) return undefined;
    const [, group, version, kind] = m;
    const plural = `${kind.toLowerCase()}s`;
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
            if (object.metadata.annotations?.[STACK_ANNOTATION] === stack) return { urn, action: "import", id: where, what: `${target.kind} ${where}` };
            const reason = notOurs(object, { apiVersion: "", kind: target.kind, name: target.name, instance: "" }, stack) ?? `it does not name this stack in ${STACK_ANNOTATION}`;
            return { urn, action: "clear", why: `${target.kind} ${where} exists but is not this stack's (${reason}): left alone` };
        });
}

/** The refresh that applies the resolutions. */
export function refreshArgs(stack: string, resolutions: Resolution[]): string[] {
    const imports = resolutions.flatMap((r) => (r.action === "import" ? ["--import-pending-creates", r.urn, "--import-pending-creates", r.id] : []));
    const clear = resolutions.some((r) => r.action === "clear") ? ["--clear-pending-creates"] : [];
    return ["refresh", "--stack", stack, "--yes", "--skip-preview", "--non-interactive", "--color", "never", ...imports, ...clear];
}

function pulumi(args: string[]): string {
    return execFileSync("pulumi", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
}

/** The stack's config, secrets shown: where its cluster is, and which target it deploys to. */
function stackConfig(stack: string): Record<string, string | undefined> {
    const raw = JSON.parse(pulumi(["config", "--json", "--show-secrets", "--stack", stack])) as Record<string, { value?: string }>;
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v.value]));
}

export async function recover(stack: string, opts: { force: boolean }): Promise<void> {
    const config = stackConfig(stack);
    const fullName = stackFullName(stack);
    if (config["dockyard:target"] === "docker") {
        recoverDockerStack(stack, process.env.DOCKYARD_STACK_LABEL ?? fullName, process.cwd());
        return;
    }
    const state = JSON.parse(pulumi(["stack", "export", "--stack", stack])) as { deployment: { pending_operations?: PendingOperation[] } };
    const pending = state.deployment.pending_operations ?? [];
    const settings: ClusterSettings = { kubeconfig: config["kubernetes:kubeconfig"], context: config["kubernetes:context"], cluster: config["kubernetes:cluster"] };
    const found = new Map<string, ClusterObject | undefined>();
    for (const op of pending.filter((o) => o.type === "creating")) {
        const target = pendingObject(op);
        if (!target) continue;
        const args = ["get", target.kubectl, "--ignore-not-found", ...(target.namespace ? ["--namespace", target.namespace] : [])];
        found.set(op.resource.urn, (await kubectlGet(args, settings, `look up what a pending create of ${op.resource.urn} made`))[0]);
    }
    const resolutions = resolvePendingCreates(pending, found, fullName);

    const runRefresh = () => spawnSync("pulumi", refreshArgs(stack, resolutions), { encoding: "utf8", maxBuffer: 64 << 20 });
    let refresh = runRefresh();
    if (refresh.status !== 0 && /currently locked/.test(`${refresh.stdout}${refresh.stderr}`)) {
        const locks = locksInError(`${refresh.stdout}${refresh.stderr}`);
        const verdict = lockVerdict(locks, os.hostname(), isRunning, opts.force);
        if (!verdict.removable) throw new Error(`stack ${stack} was not touched: ${verdict.refusals.join("; ")}`);
        pulumi(["cancel", "--yes", "--stack", stack]);
        for (const l of locks) console.log(`removed the lock of pid ${l.pid} of ${l.username}@${l.hostname} (since ${l.timestamp}): that deploy is not running`);
        refresh = runRefresh();
    }
    if (refresh.status !== 0) throw new Error(`pulumi refresh failed for stack ${stack}:\n${refresh.stdout}${refresh.stderr}`);
    for (const r of resolutions) console.log(r.action === "import" ? `took ${r.what} into the state: a dead run of this stack made it` : `cleared the pending create of ${r.urn}: ${r.why}`);

    const left = (JSON.parse(pulumi(["stack", "export", "--stack", stack])) as typeof state).deployment.pending_operations ?? [];
    if (left.length > 0) throw new Error(`stack ${stack} still has pending operations after the refresh: ${left.map((o) => `${o.type} ${o.resource.urn}`).join(", ")}`);
    const summary = /Resources:[\s\S]*?(?=\n\n|$)/.exec(refresh.stdout)?.[0].replace(/\s+/g, " ").trim();
    console.log(`stack ${stack} is deployable: ${pending.length} pending operation(s) resolved, state refreshed from the cluster${summary ? ` (${summary})` : ""}`);
}

/** `<organization>/<project>/<stack>`, as the program names its stack in STACK_ANNOTATION. */
function stackFullName(stack: string): string {
    return pulumi(["stack", "--stack", stack, "--show-name", "--fully-qualify-stack-names"]).trim();
}

function main(argv: string[]): Promise<void> {
    const at = argv.indexOf("--stack");
    const stack = at >= 0 ? argv[at + 1] : undefined;
    const unknown = argv.filter((a, i) => a.startsWith("-") && !["--stack", "--force"].includes(a) && argv[i - 1] !== "--stack");
    if (!stack || unknown.length > 0) throw new Error("usage: npm run recover -- --stack <stack> [--force]");
    return recover(stack, { force: argv.includes("--force") });
}

if (require.main === module) {
    main(process.argv.slice(2)).catch((e: Error) => {
        console.error(e.message);
        process.exit(1);
    });
}
