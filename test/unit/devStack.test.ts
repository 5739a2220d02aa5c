// The dev stack's housekeeping (scripts/devStack.ts): what recover and prune decide, before they touch the engine.
import { strict as assert } from "assert";
import { type LocalTag, imagesInUse, planRecovery, repositoryOf, staleLocks, tagsToPrune, withoutPendingOperations } from "../../scripts/devStack";

const CONTAINER = "docker:index/container:Container";
const container = (id: string) => ({ id, name: `c-${id}`, state: "running" });

describe("devStack", () => {
    describe("planRecovery", () => {
        const state = {
            deployment: {
                resources: [
                    { type: "pulumi:pulumi:Stack", urn: "urn:stack" },
                    { type: CONTAINER, id: "tracked", urn: "urn:hello" },
                    { type: "docker:index/image:Image", id: "orphan-looking-image-id", urn: "urn:image" },
                ],
                pending_operations: [{ type: "creating", resource: { type: CONTAINER, urn: "urn:server" } }],
            },
        };

        it("names the labelled containers the state does not track, and the pending operations", () => {
            const plan = planRecovery(state, [container("tracked"), container("orphan")]);
            assert.deepEqual(plan.orphans, [container("orphan")]);
            assert.deepEqual(plan.pending, [{ type: "creating", urn: "urn:server" }]);
        });

        it("finds nothing when state and engine agree", () => {
            assert.deepEqual(planRecovery({ deployment: { resources: state.deployment.resources } }, [container("tracked")]), { orphans: [], pending: [] });
        });

        it("treats every labelled container as an orphan when the state has no resources yet", () => {
            assert.deepEqual(planRecovery({ deployment: {} }, [container("a")]).orphans, [container("a")]);
        });

        it("clears pending operations and keeps every resource", () => {
            const cleared = withoutPendingOperations(state);
            assert.deepEqual(cleared.deployment.pending_operations, []);
            assert.deepEqual(cleared.deployment.resources, state.deployment.resources);
            assert.equal(state.deployment.pending_operations.length, 1, "the input is not modified");
        });
    });

    describe("staleLocks", () => {
        const lock = (pid: number, hostname = "laptop") => ({ pid, hostname, timestamp: "2026-12-02T02:00:39Z" });
        const running = (pids: number[]) => (pid: number) => pids.includes(pid);

        it("calls a lock stale when this host's process that took it is gone", () => {
            assert.deepEqual(staleLocks([lock(10), lock(11)], "laptop", running([11])), { stale: [lock(10)], live: [lock(11)] });
        });

        it("never calls another host's lock stale, whatever runs here", () => {
            assert.deepEqual(staleLocks([lock(10, "ci-runner")], "laptop", running([])), { stale: [], live: [lock(10, "ci-runner")] });
        });

        it("finds nothing in no locks", () => {
            assert.deepEqual(staleLocks([], "laptop", running([])), { stale: [], live: [] });
        });
    });

    describe("tagsToPrune", () => {
        const tag = (repository: string, t: string, created: string): LocalTag => ({ repository, tag: t, created: `2026-11-25 ${created} +0000 UTC` });
        const tags = [
            tag("dockyard/server", "sha-old", "10:00:00"),
            tag("dockyard/server", "sha-mid", "11:00:00"),
            tag("dockyard/server", "sha-new", "12:00:00"),
            tag("dockyard/server", "sha-live", "09:00:00"),
            tag("dockyard/hello", "sha-h1", "10:00:00"),
            tag("dockyard/hello", "sha-h2", "11:00:00"),
            tag("someone/else", "latest", "08:00:00"),
        ];
        const inUse = ["dockyard/server:sha-live", "dockyard/hello:sha-h2"];
        const names = (ts: LocalTag[]) => ts.map((t) => `${t.repository}:${t.tag}`).sort();

        it("removes every tag of the stack's repositories but the ones in use", () => {
            assert.deepEqual(names(tagsToPrune(tags, inUse, 0)), ["dockyard/hello:sha-h1", "dockyard/server:sha-mid", "dockyard/server:sha-new", "dockyard/server:sha-old"]);
        });

        it("keeps the N newest other tags per repository when asked", () => {
            assert.deepEqual(names(tagsToPrune(tags, inUse, 1)), ["dockyard/server:sha-mid", "dockyard/server:sha-old"]);
            assert.deepEqual(names(tagsToPrune(tags, inUse, 5)), []);
        });

        it("never touches a repository the stack does not use", () => {
            assert.ok(!names(tagsToPrune(tags, inUse, 0)).some((n) => n.startsWith("someone/")));
        });
    });

    it("reads repositories from refs with registry ports and digests", () => {
        assert.equal(repositoryOf("dockyard/server:sha-1"), "dockyard/server");
        assert.equal(repositoryOf("localhost:5000/server:sha-1"), "localhost:5000/server");
        assert.equal(repositoryOf(`localhost:5000/server@sha256:${"a".repeat(64)}`), "localhost:5000/server");
        assert.equal(repositoryOf("localhost:5000/server"), "localhost:5000/server");
    });

    it("takes the image refs from the stack's apps output", () => {
        assert.deepEqual(imagesInUse({ server: { imageRef: "dockyard/server:sha-1" }, hello: { imageRef: "dockyard/hello:sha-2" }, odd: {} }), [
            "dockyard/server:sha-1",
            "dockyard/hello:sha-2",
        ]);
    });
});
