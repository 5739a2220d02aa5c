// A Docker-target stack's housekeeping (components/cli/containers.ts, prune.ts): which containers recover removes
// and which tags prune does, before they touch the engine.
import { strict as assert } from "assert";
import { orphanContainers } from "../../components/cli/containers";
import { type LocalTag, imagesInUse, repositoryOf, tagsToPrune } from "../../components/cli/prune";

const CONTAINER = "docker:index/container:Container";
const container = (id: string) => ({ id, name: `c-${id}`, state: "running" });

describe("a Docker-target stack's containers and tags", () => {
    describe("orphanContainers", () => {
        const state = {
            deployment: {
                resources: [
                    { type: "pulumi:pulumi:Stack", urn: "urn:stack" },
                    { type: CONTAINER, id: "tracked", urn: "urn:hello" },
                    { type: "docker:index/image:Image", id: "orphan-looking-image-id", urn: "urn:image" },
                ],
            },
        };

        it("names the labelled containers the state does not track", () => {
            assert.deepEqual(orphanContainers(state, [container("tracked"), container("orphan")]), [container("orphan")]);
        });

        it("finds nothing when state and engine agree", () => {
            assert.deepEqual(orphanContainers(state, [container("tracked")]), []);
        });

        it("treats every labelled container as an orphan when the state has no resources yet", () => {
            assert.deepEqual(orphanContainers({ deployment: {} }, [container("a")]), [container("a")]);
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

    it("takes the images in use from the stack's image resources, whatever the program outputs", () => {
        const state = {
            deployment: {
                resources: [
                    { type: "docker:index/image:Image", outputs: { imageName: "dockyard/server:sha-1" } },
                    { type: "docker:index/image:Image", outputs: { imageName: "dockyard/hello:sha-2" } },
                    { type: "docker:index/image:Image", outputs: {} },
                    { type: "docker:index/container:Container", outputs: { image: "sha256:abc" } },
                ],
            },
        };
        assert.deepEqual(imagesInUse(state), ["dockyard/hello:sha-2", "dockyard/server:sha-1"]);
        assert.deepEqual(imagesInUse({ deployment: {} }), []);
    });
});
