// components/cli/recover.ts: reading the CLI's lock error, deciding whether a lock may go, and resolving each
// pending create against what the cluster holds.
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ClusterObject } from "../../components/internal/cluster";
import { forgetRun, findRun, recordRun, startTime } from "../../components/cli/runRecords";
import { type HolderChecks, type PendingOperation, cloudConflict, hostChecks, lockFile, locksInError, lockVerdict, pendingObject, refreshArgs, resolvePendingCreates, s3Lock, withTakenObjects } from "../../components/cli/recover";

const STACK = "dockyard/staging";
const LOCKED = [
    "error: the stack is currently locked by 2 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.",
    "  s3://state/.pulumi/locks/organization/dockyard/staging/8d1c.json?endpoint=http://127.0.0.1:9000&use_path_style=true: created by root@runner-1 (pid 11885) at 2026-12-02T21:00:00Z",
    "  s3://state/.pulumi/locks/organization/dockyard/staging/9e2d.json: created by ci@runner-2 (pid 42) at 2026-12-02T21:05:00Z",
].join("\n");

const urn = (type: string, name: string) => `urn:pulumi:staging::dockyard::${type}::${name}`;
function creating(type: string, name: string | undefined, namespace?: string): PendingOperation {
    return { type: "creating", resource: { urn: urn(type, `x-${name}`), type, inputs: name ? { metadata: { name, namespace } } : {} } };
}
function object(kind: string, name: string, namespace: string | undefined, owner?: string): ClusterObject {
    return { apiVersion: "v1", kind, metadata: { name, namespace, annotations: owner ? { "dockyard.dev/stack": owner } : undefined } };
}

describe("recover", () => {
    it("reads every lock the backend names: where it is, user, host, pid and time", () => {
        assert.deepEqual(locksInError(LOCKED), {
            locks: [
                {
                    url: "s3://state/.pulumi/locks/organization/dockyard/staging/8d1c.json?endpoint=http://127.0.0.1:9000&use_path_style=true",
                    username: "root",
                    hostname: "runner-1",
                    pid: 11885,
                    timestamp: "2026-12-02T21:00:00Z",
                },
                { url: "s3://state/.pulumi/locks/organization/dockyard/staging/9e2d.json", username: "ci", hostname: "runner-2", pid: 42, timestamp: "2026-12-02T21:05:00Z" },
            ],
            unreadable: [],
        });
        assert.equal(locksInError("error: something else"), undefined);
    });

    it("reads a user name with a space, and calls a line it cannot read unreadable, raw", () => {
        const header = "error: the stack is currently locked by 2 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.";
        const spaced = `${header}\n  file:///s/.pulumi/locks/o/p/s/1.json: created by Jane Doe@laptop (pid 7) at 2026-12-02T21:00:00Z\n  file:///s/.pulumi/locks/o/p/s/2.json: created by ???`;
        const reading = locksInError(spaced)!;
        assert.deepEqual(reading.locks.map((l) => `${l.username}@${l.hostname}`), ["Jane Doe@laptop"]);
        assert.deepEqual(reading.unreadable, ["file:///s/.pulumi/locks/o/p/s/2.json: created by ???"]);
        // Fewer lines than the count the backend gives: the missing ones are unreadable too.
        assert.match(locksInError(`${header}\n  file:///a.json: created by u@h (pid 1) at t`)!.unreadable[0], /names 2 lock\(s\), 1 line\(s\) follow/);
    });

    describe("lockVerdict", () => {
        const lock = (hostname: string, pid: number) => ({ url: `file:///locks/${pid}.json`, username: "root", hostname, pid, timestamp: "2026-12-02T21:00:00Z" });
        const reading = (...locks: ReturnType<typeof lock>[]) => ({ locks, unreadable: [] });
        // This pid namespace: pid 7 runs (started at tick 700), pid 9 runs as another process than the one recorded
        // under it (a reused pid), pid 8 runs no more. Dockyard commands here recorded starting 8 and 9.
        const starts = new Map([[7, "700"], [9, "950"]]);
        const records = new Map([8, 9].map((pid) => [pid, { pid, bootId: "b", startTime: `${pid}00` }]));
        const checks = (more: Partial<HolderChecks> = {}): HolderChecks => ({
            host: "here",
            running: (pid) => starts.has(pid),
            startTime: (pid) => starts.get(pid),
            record: (pid) => records.get(pid),
            reaped: new Set(),
            ...more,
        });

        it("a lock whose holder a dockyard command here started, and which no longer runs, may go", () => {
            assert.deepEqual(lockVerdict(reading(lock("here", 8)), checks(), false), { removable: true, refusals: [] });
        });
        it("a recorded holder whose pid now runs another process (its start time differs) is gone too", () => {
            assert.deepEqual(lockVerdict(reading(lock("here", 9)), checks(), false), { removable: true, refusals: [] });
        });
        it("a lock of a CLI this process started and saw exit may go, record or not", () => {
            assert.deepEqual(lockVerdict(reading(lock("here", 12)), checks({ reaped: new Set([12]) }), false), { removable: true, refusals: [] });
        });
        it("same host name, but a pid no dockyard command of this pid namespace started: refused without --force (a container's deploy)", () => {
            const v = lockVerdict(reading(lock("here", 12)), checks(), false);
            assert.equal(v.removable, false);
            assert.match(v.refusals[0], /locked by pid 12 of root@here, since 2026-12-02T21:00:00Z, which does not run in this pid namespace, but no dockyard command here started it: .*container.*--force$/);
            assert.deepEqual(lockVerdict(reading(lock("here", 12)), checks(), true), { removable: true, refusals: [] });
        });
        it("a lock on this host whose process runs is refused, even with --force, naming it", () => {
            for (const force of [false, true]) {
                const v = lockVerdict(reading(lock("here", 7)), checks(), force);
                assert.equal(v.removable, false);
                assert.match(v.refusals[0], /a deploy is running: pid 7 of root@here, since 2026-12-02T21:00:00Z/);
            }
            // A recorded holder that still runs with its recorded start time is live too.
            assert.equal(lockVerdict(reading(lock("here", 8)), checks({ startTime: () => "800" }), true).removable, false);
        });
        it("a lock on another machine is refused unless forced", () => {
            const v = lockVerdict(reading(lock("there", 8)), checks(), false);
            assert.equal(v.removable, false);
            assert.match(v.refusals[0], /locked by another machine: pid 8 of root@there.*--force/);
            assert.deepEqual(lockVerdict(reading(lock("there", 8)), checks(), true), { removable: true, refusals: [] });
        });
        it("one live holder among dead ones keeps them all", () => {
            assert.equal(lockVerdict(reading(lock("here", 8), lock("here", 7)), checks(), true).removable, false);
        });
        it("a lock it cannot read is never taken for a dead one, --force or not, and is printed as it came", () => {
            for (const force of [false, true]) {
                const v = lockVerdict({ locks: [lock("here", 8)], unreadable: ["s3://b/x.json: created by ???"] }, checks(), force);
                assert.equal(v.removable, false);
                assert.match(v.refusals[0], /cannot read.*: s3:\/\/b\/x\.json: created by \?\?\?/);
            }
        });
    });

    it("proves a CLI it recorded dead once it exits, by this pid namespace's records, on this host for real", async () => {
        const state = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-runs-test-"));
        const saved = process.env.XDG_STATE_HOME;
        process.env.XDG_STATE_HOME = state;
        try {
            const child = spawn("sleep", ["30"]);
            const pid = child.pid!;
            recordRun(pid);
            assert.equal(findRun(pid)?.startTime, startTime(pid));
            const held = { locks: [{ url: "file:///l.json", username: "root", hostname: os.hostname(), pid, timestamp: "t" }], unreadable: [] };
            assert.match(lockVerdict(held, hostChecks(), false).refusals[0], /a deploy is running: pid \d+/);
            const exited = new Promise((resolve) => child.on("exit", resolve));
            child.kill("SIGKILL");
            await exited;
            assert.deepEqual(lockVerdict(held, hostChecks(), false), { removable: true, refusals: [] });
            forgetRun(pid);
            assert.equal(findRun(pid), undefined);
            assert.equal(lockVerdict(held, hostChecks(), false).removable, false, "without its record, the same dead pid proves nothing");
        } finally {
            if (saved === undefined) delete process.env.XDG_STATE_HOME;
            else process.env.XDG_STATE_HOME = saved;
            fs.rmSync(state, { recursive: true, force: true });
        }
    });

    it("recognises Pulumi Cloud's refusal, which names no lock, and nothing else as one", () => {
        const refusal = "error: [409] Conflict: Another update is currently in progress.\nTo learn more about possible reasons and resolution, visit https://www.pulumi.com/docs/troubleshooting/#conflict";
        assert.equal(cloudConflict(refusal), "[409] Conflict: Another update is currently in progress.");
        assert.equal(locksInError(refusal), undefined);
        assert.equal(cloudConflict(LOCKED), undefined);
        assert.equal(cloudConflict("error: [404] Not Found"), undefined);
    });

    it("finds the exact lock object a URL names: a file (relative to the project or absolute), an S3 key", () => {
        assert.equal(lockFile("file://./.pulumi-state/.pulumi/locks/organization/dockyard/dev/ab.json", "/work/p"), "/work/p/.pulumi-state/.pulumi/locks/organization/dockyard/dev/ab.json");
        assert.equal(lockFile("file:///srv/state/.pulumi/locks/o/p/s/ab.json?no_tmp_dir=true", "/work/p"), "/srv/state/.pulumi/locks/o/p/s/ab.json");
        assert.deepEqual(s3Lock("s3://dockyard-state/e2e/.pulumi/locks/o/p/s/ab.json?endpoint=http://127.0.0.1:9000&region=us-east-1&use_path_style=true"), {
            bucket: "dockyard-state",
            key: "e2e/.pulumi/locks/o/p/s/ab.json",
            endpoint: "http://127.0.0.1:9000",
            region: "us-east-1",
            forcePathStyle: true,
        });
        assert.deepEqual(s3Lock("s3://b/.pulumi/locks/x.json"), { bucket: "b", key: ".pulumi/locks/x.json", endpoint: undefined, region: undefined, forcePathStyle: false });
    });

    it("finds the object a pending Kubernetes create was making, by its fully qualified resource", () => {
        assert.deepEqual(pendingObject(creating("kubernetes:core/v1:Service", "server", "ns")), { kubectl: "services/server", kind: "Service", name: "server", namespace: "ns" });
        assert.deepEqual(pendingObject(creating("kubernetes:apps/v1:Deployment", "server", "ns"))?.kubectl, "deployments.v1.apps/server");
        assert.deepEqual(pendingObject(creating("kubernetes:batch/v1:Job", "hello", "ns"))?.kubectl, "jobs.v1.batch/hello");
        assert.deepEqual(pendingObject(creating("kubernetes:networking.k8s.io/v1:NetworkPolicy", "server", "ns"))?.kubectl, "networkpolicies.v1.networking.k8s.io/server");
        assert.deepEqual(pendingObject(creating("kubernetes:gateway.networking.k8s.io/v1:Gateway", "edge", "ns"))?.kubectl, "gateways.v1.gateway.networking.k8s.io/edge");
        assert.deepEqual(pendingObject(creating("kubernetes:cert-manager.io/v1:Certificate", "edge", "ns"))?.kubectl, "certificates.v1.cert-manager.io/edge");
        assert.deepEqual(pendingObject(creating("kubernetes:core/v1:Namespace", "team", "ignored")), { kubectl: "namespaces/team", kind: "Namespace", name: "team", namespace: undefined });
        assert.equal(pendingObject(creating("docker:index/image:Image", "server")), undefined);
        assert.equal(pendingObject(creating("kubernetes:core/v1:Secret", undefined, "ns")), undefined);
    });

    describe("resolvePendingCreates", () => {
        const ours = creating("kubernetes:batch/v1:Job", "hello", "ns");
        const namespace = creating("kubernetes:core/v1:Namespace", "team");
        const foreign = creating("kubernetes:core/v1:Service", "server", "ns");
        const gone = creating("kubernetes:core/v1:ServiceAccount", "server", "ns");
        const image = creating("docker:index/image:Image", "server");
        const updating: PendingOperation = { ...creating("kubernetes:apps/v1:Deployment", "server", "ns"), type: "updating" };
        const found = new Map<string, ClusterObject | undefined>([
            [ours.resource.urn, object("Job", "hello", "ns", STACK)],
            [namespace.resource.urn, object("Namespace", "team", undefined, `organization/${STACK}`)],
            [foreign.resource.urn, object("Service", "server", "ns", "dockyard/prod")],
            [gone.resource.urn, undefined],
        ]);
        const resolved = resolvePendingCreates([ours, namespace, foreign, gone, image, updating], found, STACK);

        it("takes back what names this stack (its project and stack; an organization, as older objects carry, does not matter), under the provider's ID", () => {
            assert.deepEqual(resolved.slice(0, 2), [
                { urn: ours.resource.urn, action: "import", id: "ns/hello", what: "Job ns/hello" },
                { urn: namespace.resource.urn, action: "import", id: "team", what: "Namespace team" },
            ]);
        });
        it("leaves anything else alone and drops its pending create, saying why", () => {
            assert.equal(resolved[2].action, "clear");
            assert.match((resolved[2] as { why: string }).why, /Service ns\/server exists but is not this stack's \(it belongs to stack dockyard\/prod\): left alone/);
            assert.match((resolved[3] as { why: string }).why, /ServiceAccount server does not exist: the dead run never made it/);
            assert.match((resolved[4] as { why: string }).why, /docker:index\/image:Image is not a named Kubernetes object: the next up makes it again/);
        });
        it("resolves creates only: the refresh settles the rest", () => {
            assert.equal(resolved.length, 5);
        });
        it("makes each object it takes back a resource under its ID, after every other; drops the resolved creates and keeps the rest", () => {
            const provider = "urn:pulumi:staging::dockyard::pulumi:providers:kubernetes::default::1234";
            const kept = { urn: "urn:pulumi:staging::dockyard::pulumi:providers:kubernetes::default", type: "pulumi:providers:kubernetes", id: "1234" };
            const withProvider = { ...ours, resource: { ...ours.resource, provider, parent: "urn:pulumi:staging::dockyard::pulumi:pulumi:Stack::dockyard-staging" } };
            const state = {
                version: 3,
                deployment: { manifest: { time: "t" }, resources: [kept], pending_operations: [withProvider, namespace, foreign, gone, image, updating] },
            };
            const edited = withTakenObjects(state, resolved);
            assert.deepEqual(edited.deployment.resources, [
                kept,
                { ...withProvider.resource, id: "ns/hello" },
                { ...namespace.resource, id: "team" },
            ]);
            assert.deepEqual(edited.deployment.pending_operations, [updating], "only what recover resolved leaves the pending operations");
            assert.deepEqual((edited.deployment as unknown as { manifest: unknown }).manifest, { time: "t" }, "the rest of the state is kept as it is");
            assert.equal(state.deployment.resources.length, 1, "the exported state is not changed in place");
        });
        it("a create that was replacing: under the same ID it takes the old entry's place, under another the old is marked for deletion", () => {
            const old = { urn: ours.resource.urn, type: ours.resource.type, id: "ns/hello" };
            // The Job's run record depends on it; the new Job's pull Secret was made by the dead run, after both.
            const record = { urn: "urn:record", type: "kubernetes:core/v1:ConfigMap", id: "ns/record", dependencies: [ours.resource.urn] };
            const secret = { urn: "urn:secret", type: "kubernetes:core/v1:Secret", id: "ns/pull" };
            const job = { ...ours, resource: { ...ours.resource, dependencies: ["urn:secret"] } };
            const same = withTakenObjects({ deployment: { resources: [old, record], pending_operations: [ours] } }, resolved);
            assert.deepEqual(same.deployment.resources, [{ ...ours.resource, id: "ns/hello" }, record]);
            const later = withTakenObjects({ deployment: { resources: [old, record, secret], pending_operations: [job] } }, resolved);
            assert.deepEqual(later.deployment.resources, [secret, { ...job.resource, id: "ns/hello" }, record], "each after what it refers to");
            const moved = withTakenObjects({ deployment: { resources: [{ ...old, id: "ns/hello-old" }, record], pending_operations: [ours] } }, resolved);
            assert.deepEqual(moved.deployment.resources, [{ ...old, id: "ns/hello-old", delete: true }, { ...ours.resource, id: "ns/hello" }, record]);
        });
        it("refreshes the whole state, clearing the creates it did not take back", () => {
            const args = refreshArgs("staging", resolved);
            assert.deepEqual(args.slice(0, 3), ["refresh", "--stack", "staging"]);
            assert.ok(!args.includes("--import-pending-creates"), "the CLI's import of pending creates drops them unimported");
            assert.ok(args.includes("--clear-pending-creates"));
            assert.ok(!refreshArgs("staging", resolved.slice(0, 2)).includes("--clear-pending-creates"), "nothing to clear: no flag");
            assert.ok(!args.includes("--exclude"), "a Kubernetes stack's refresh reads every object");
            // A Docker stack's reads none: it only settles the pending operations.
            const docker = refreshArgs("dev", [{ urn: "urn:c", action: "clear", why: "" }], true);
            assert.deepEqual(docker.slice(-3), ["--clear-pending-creates", "--exclude", "**"]);
        });
    });
});
