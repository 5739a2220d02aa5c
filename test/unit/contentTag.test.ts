import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { contentTag, contextFiles } from "../../components/internal/contentTag";

describe("content tag", () => {
    let dir: string;
    const write = (rel: string, body: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), body);
    };
    const tag = (buildArgs: Record<string, string> = { GO_IMAGE: "golang:1.26" }, extra: { platform?: string; target?: string } = {}) =>
        contentTag({ context: dir, dockerfile: path.join(dir, "Dockerfile"), buildArgs, ...extra });

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-tag-"));
        write("go.mod", "module x\n\ngo 1.26\n");
        write("main.go", "package main\n\nfunc main() {}\n");
        write("internal/util.go", "package internal\n");
        write("Dockerfile", "FROM scratch\nCOPY . /\n");
        write(".dockerignore", "Dockerfile\n.dockerignore\n**/*_test.go\nnotes/\n!notes/keep.txt\n");
        write("main_test.go", "package main\n");
        write("notes/todo.md", "later\n");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("is sha- and 20 hex digits", () => assert.match(tag(), /^sha-[0-9a-f]{20}$/));

    it("stays the same when nothing changed, even if files are rewritten", () => {
        const before = tag();
        write("main.go", "package main\n\nfunc main() {}\n");
        assert.equal(tag(), before);
    });

    it("changes with a source file", () => {
        const before = tag();
        write("internal/util.go", "package internal\n\nconst X = 1\n");
        assert.notEqual(tag(), before);
    });

    it("changes when a file is added or removed", () => {
        const before = tag();
        write("extra.go", "package main\n");
        const added = tag();
        assert.notEqual(added, before);
        fs.rmSync(path.join(dir, "extra.go"));
        assert.equal(tag(), before);
    });

    it("changes with a renamed file of the same content", () => {
        const before = tag();
        fs.renameSync(path.join(dir, "internal/util.go"), path.join(dir, "internal/other.go"));
        assert.notEqual(tag(), before);
    });

    it("changes with the Dockerfile, though .dockerignore excludes it from the context", () => {
        const before = tag();
        write("Dockerfile", "FROM scratch\nCOPY . /app\n");
        assert.notEqual(tag(), before);
    });

    it("changes with a build arg, not with their order", () => {
        const before = tag({ GO_IMAGE: "golang:1.26", RUNTIME_IMAGE: "scratch" });
        assert.equal(tag({ RUNTIME_IMAGE: "scratch", GO_IMAGE: "golang:1.26" }), before);
        assert.notEqual(tag({ GO_IMAGE: "golang:1.26", RUNTIME_IMAGE: "distroless" }), before);
        assert.notEqual(tag({ GO_IMAGE: "golang:1.26" }), before);
    });

    it("changes with the platform and the target stage", () => {
        const before = tag();
        assert.notEqual(tag(undefined, { platform: "linux/arm64" }), before);
        assert.notEqual(tag(undefined, { target: "build" }), before);
    });

    it("changes when a file becomes executable", () => {
        const before = tag();
        fs.chmodSync(path.join(dir, "main.go"), 0o755);
        assert.notEqual(tag(), before);
    });

    it("ignores files .dockerignore excludes", () => {
        const before = tag();
        write("main_test.go", "package main\n\n// edited\n");
        write("internal/util_test.go", "package internal\n");
        write("notes/todo.md", "changed\n");
        assert.equal(tag(), before);
    });

    it("honours ! exceptions in .dockerignore", () => {
        const before = tag();
        write("notes/keep.txt", "kept\n");
        assert.notEqual(tag(), before);
        assert.ok(contextFiles(dir, path.join(dir, "Dockerfile")).includes("notes/keep.txt"));
    });

    it("prefers <Dockerfile>.dockerignore over the context's .dockerignore", () => {
        write("Dockerfile.dockerignore", "internal/\n");
        const files = contextFiles(dir, path.join(dir, "Dockerfile"));
        assert.ok(!files.includes("internal/util.go"), files.join(","));
        assert.ok(files.includes("main_test.go"), "the context's .dockerignore should no longer apply");
    });

    it("lists the context the engine would receive", () => {
        assert.deepEqual(contextFiles(dir, path.join(dir, "Dockerfile")), ["go.mod", "internal/util.go", "main.go"]);
    });
});

describe("content tag of the real apps", () => {
    const appTag = (app: string) => {
        const context = path.resolve(__dirname, "..", "..", "apps", app);
        return contentTag({ context, dockerfile: path.join(context, "Dockerfile"), buildArgs: {} });
    };
    it("differs between apps and is stable for each", () => {
        assert.notEqual(appTag("hello"), appTag("server"));
        assert.equal(appTag("server"), appTag("server"));
    });
    it("leaves tests out of the server's context", () => {
        const context = path.resolve(__dirname, "..", "..", "apps", "server");
        assert.deepEqual(contextFiles(context, path.join(context, "Dockerfile")), ["drain.go", "go.mod", "go.sum", "main.go", "observe.go", "server.go"]);
    });
});
