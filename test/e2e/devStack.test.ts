// The dev stack's commands (`npm run <verb>:dev`, the dockyard command) on a fresh clone, with the real Pulumi CLI and the real
// Docker engine: the quick start's first step works before anything else exists and leaves every
// tracked file as checked in; recover removes what an interrupted update left; prune keeps the
// images in use. `pulumi up` itself needs the Docker provider, which no Go module serves: the
// state an interrupted update leaves is written with `pulumi stack import` instead.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Janitor, dockerCli, dockerOk, ensureEngine, repoRoot } from "../support/docker";
import { engineDir } from "../support/engine";

describe("dev stack commands on a fresh clone (real Pulumi CLI, real Docker)", function () {
    this.timeout(10 * 60_000);
    const janitor = new Janitor();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-devstack-"));
    const clone = path.join(work, "clone");
    // What compose.ts labels the dev stack's containers with; the clone's own folder tells them from any other checkout's.
    const label = "dockyard/dev";
    let env: NodeJS.ProcessEnv;

    /** `npm run <verb>:dev -- <args>` in the clone; never throws. */
    function dev([verb, ...args]: string[], extra: NodeJS.ProcessEnv = {}) {
        const r = spawnSync("npm", ["run", "-s", `${verb}:dev`, "--", ...args], { cwd: clone, env: { ...env, ...extra }, encoding: "utf8" });
        return { code: r.status, out: `${r.stdout}${r.stderr}` };
    }
    function pulumi(args: string[], extra: NodeJS.ProcessEnv = {}): string {
        return execFileSync("pulumi", args, { cwd: clone, env: { ...env, ...extra }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    }
    const tracked = () => execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: clone, encoding: "utf8" });

    before(async function () {
        await ensureEngine();
        const cli = engineDir("pulumi.sh");
        execFileSync("git", ["clone", "--quiet", repoRoot, clone]);
        // Installed dependencies, as after `npm ci`: the scripts only read them.
        fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(clone, "node_modules"));
        const bin = path.join(work, "bin");
        fs.mkdirSync(bin);
        // The Docker CLI that talks to this engine.
        fs.symlinkSync(dockerCli(), path.join(bin, "docker"));
        env = {
            ...process.env,
            PATH: `${bin}:${cli}:${process.env.PATH}`,
            PULUMI_HOME: path.join(work, "pulumi-home"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
        };
        delete env.PULUMI_CONFIG_PASSPHRASE;
        delete env.PULUMI_BACKEND_URL;
    });

    after(async () => {
        await janitor.clean();
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("creates the dev stack first, without touching a tracked file or asking for a passphrase", () => {
        const r = dev(["recover"]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /nothing to recover: stack dev and the engine agree/);
        assert.equal(tracked(), "", "tracked files changed");
        // Setting the Go image in the stack config (docs/dev-loop.md's alternative to DOCKYARD_GO_IMAGE) works right after.
        pulumi(["config", "set", "dockyard:goImage", "local/go:offline", "--stack", "dev"], { PULUMI_CONFIG_PASSPHRASE: "" });
        assert.match(fs.readFileSync(path.join(clone, "Pulumi.dev.yaml"), "utf8"), /dockyard:goImage: local\/go:offline/);
        execFileSync("git", ["checkout", "--quiet", "Pulumi.dev.yaml"], { cwd: clone });
        // The checked-in salt is the empty passphrase's: another passphrase is refused, the empty one encrypts.
        const secret = ["config", "set", "--secret", "dockyard:probe", "x", "--stack", "dev"];
        assert.throws(() => pulumi(secret, { PULUMI_CONFIG_PASSPHRASE: "wrong" }), /incorrect passphrase/);
        pulumi(secret, { PULUMI_CONFIG_PASSPHRASE: "" });
        assert.equal(pulumi(["config", "get", "dockyard:probe", "--stack", "dev"], { PULUMI_CONFIG_PASSPHRASE: "" }).trim(), "x");
        execFileSync("git", ["checkout", "--quiet", "Pulumi.dev.yaml"], { cwd: clone });
    });

    it("recover: removes the container an interrupted create left holding the port, clears the pending create, keeps the rest", async () => {
        const image = janitor.image(`dockyard-e2e-devstack:${path.basename(work).toLowerCase()}`);
        await dockerOk(["build", "-q", "-t", image, "-"], { input: (await import("stream")).Readable.from(["FROM scratch\nLABEL purpose=e2e\n"]) });
        const create = async (name: string, labels: string[]) =>
            (await dockerOk(["create", "--name", janitor.container(name), ...labels.flatMap((l) => ["--label", l]), image, "/nothing"])).trim();
        const suffix = path.basename(work).toLowerCase();
        const ours = [`dockyard.dev/stack=${label}`, `dockyard.dev/project-dir=${clone}`];
        const trackedId = await create(`devstack-tracked-${suffix}`, [...ours, "dockyard.dev/app=hello"]);
        const orphanId = await create(`devstack-orphan-${suffix}`, [...ours, "dockyard.dev/app=server"]);
        const strangerId = await create(`devstack-stranger-${suffix}`, ["dockyard.dev/stack=someone/else/dev", `dockyard.dev/project-dir=${clone}`]);
        // The same stack of another checkout (its own state): not ours to remove.
        const otherCheckoutId = await create(`devstack-other-checkout-${suffix}`, [`dockyard.dev/stack=${label}`, `dockyard.dev/project-dir=${work}/elsewhere`, "dockyard.dev/app=server"]);

        // The state after a second Ctrl-C: hello's container recorded, server's create still pending.
        const state = JSON.parse(pulumi(["stack", "export", "--stack", "dev"], { PULUMI_CONFIG_PASSPHRASE: "" }));
        const stackUrn = "urn:pulumi:dev::dockyard::pulumi:pulumi:Stack::dockyard-dev";
        const providerUrn = "urn:pulumi:dev::dockyard::pulumi:providers:docker::default_5_2_0";
        const providerRef = `${providerUrn}::04da6b54-80e4-46f7-96ec-b56ff0331ba9`;
        const containerUrn = (app: string) => `urn:pulumi:dev::dockyard::dockyard:index:GoApp$dockyard:docker:DockerWorkload$docker:index/container:Container::${app}-workload-container`;
        state.deployment.resources = [
            { urn: stackUrn, custom: false, type: "pulumi:pulumi:Stack" },
            { urn: providerUrn, custom: true, id: "04da6b54-80e4-46f7-96ec-b56ff0331ba9", type: "pulumi:providers:docker", parent: stackUrn },
            { urn: containerUrn("hello"), custom: true, id: trackedId, type: "docker:index/container:Container", provider: providerRef, parent: stackUrn },
        ];
        const file = path.join(work, "interrupted.json");
        fs.writeFileSync(file, JSON.stringify(state));
        pulumi(["stack", "import", "--stack", "dev", "--file", file], { PULUMI_CONFIG_PASSPHRASE: "" });
        // `stack import` drops pending operations, so they go straight into the backend's checkpoint, as the
        // engine leaves them when it is killed mid-create.
        const checkpointFile = path.join(clone, ".pulumi-state", ".pulumi", "stacks", "dockyard", "dev.json");
        const checkpoint = JSON.parse(fs.readFileSync(checkpointFile, "utf8"));
        checkpoint.checkpoint.latest.pending_operations = [
            { resource: { urn: containerUrn("server"), custom: true, type: "docker:index/container:Container", provider: providerRef, parent: stackUrn }, type: "creating" },
        ];
        fs.writeFileSync(checkpointFile, JSON.stringify(checkpoint));
        assert.equal(JSON.parse(pulumi(["stack", "export", "--stack", "dev"], { PULUMI_CONFIG_PASSPHRASE: "" })).deployment.pending_operations.length, 1);

        // A killed CLI leaves its lock: one whose process still runs is refused, a dead one's is removed with --force.
        const locks = path.join(clone, ".pulumi-state", ".pulumi", "locks", "organization", "dockyard", "dev");
        fs.mkdirSync(locks, { recursive: true });
        const lockFile = (pid: number) => path.join(locks, `lock-${pid}.json`);
        fs.writeFileSync(lockFile(process.pid), JSON.stringify({ pid: process.pid, username: "root", hostname: os.hostname(), timestamp: "2026-12-02T02:00:39Z" }));
        const refused = dev(["recover"]);
        assert.equal(refused.code, 1, refused.out);
        assert.match(refused.out, new RegExp(`stack dev was not touched: a deploy is running: pid ${process.pid} of root@${os.hostname()}, since 2026-12-02T02:00:39Z`));
        assert.ok(fs.existsSync(lockFile(process.pid)), "a live lock stays");
        fs.rmSync(lockFile(process.pid));
        const dead = spawnSync("true").pid as number;
        fs.writeFileSync(lockFile(dead), JSON.stringify({ pid: dead, username: "root", hostname: os.hostname(), timestamp: "2026-12-02T02:00:39Z" }));

        // Its pid runs no more, but no dockyard command here started it: it could be a container's that shares this
        // host's name. Refused without --force, and left.
        const unproven = dev(["recover"]);
        assert.equal(unproven.code, 1, unproven.out);
        assert.match(unproven.out, new RegExp(`locked by pid ${dead} of root@${os.hostname()}, .*which does not run in this pid namespace, but no dockyard command here started it`));
        assert.ok(fs.existsSync(lockFile(dead)), "an unproven lock stays");
        const r = dev(["recover", "--force"]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, new RegExp(`removed the lock of pid ${dead} `));
        assert.deepEqual(fs.readdirSync(locks).filter((f) => f.endsWith(".json")), []);
        assert.match(r.out, new RegExp(`removed container devstack-orphan-${suffix} \\(created\\)`));
        assert.match(r.out, /cleared the pending create of .*server-workload-container: the next up makes it again/);
        const left = (await dockerOk(["ps", "-a", "--no-trunc", "--format", "{{.ID}}"])).split("\n");
        assert.ok(!left.includes(orphanId), "the orphan is gone");
        assert.ok(left.includes(trackedId), "the container the state tracks stays");
        assert.ok(left.includes(strangerId), "another stack's container stays");
        assert.ok(left.includes(otherCheckoutId), "another checkout's container of the same stack stays");
        const after = JSON.parse(pulumi(["stack", "export", "--stack", "dev"], { PULUMI_CONFIG_PASSPHRASE: "" }));
        assert.deepEqual(after.deployment.pending_operations ?? [], []);
        assert.deepEqual(
            after.deployment.resources.map((r: { urn: string }) => r.urn),
            state.deployment.resources.map((r: { urn: string }) => r.urn),
        );
        // A second run finds nothing: recovery is idempotent.
        assert.match(dev(["recover"]).out, /nothing to recover: stack dev and the engine agree/);
        assert.equal(tracked(), "", "tracked files changed");
    });

    it("prune: removes the stack's old image tags, keeps the one in use, asks again with --keep", async () => {
        const repo = `dockyard-e2e-prune-${path.basename(work).toLowerCase()}/server`;
        const tags = ["sha-1", "sha-2", "sha-3", "sha-live"];
        for (const [i, tag] of tags.entries()) {
            // Distinct images, so each tag is its own image as after each edit.
            await dockerOk(["build", "-q", "-t", janitor.image(`${repo}:${tag}`), "-"], { input: (await import("stream")).Readable.from([`FROM scratch\nLABEL edit=${i}\n`]) });
        }
        const state = JSON.parse(pulumi(["stack", "export", "--stack", "dev"], { PULUMI_CONFIG_PASSPHRASE: "" }));
        // The image the stack runs, as its state holds it (prune reads the image resources, not the program's outputs).
        const stackUrn = state.deployment.resources.find((r: { type: string }) => r.type === "pulumi:pulumi:Stack").urn;
        const provider = state.deployment.resources.find((r: { type: string }) => r.type === "pulumi:providers:docker");
        state.deployment.resources.push({
            urn: "urn:pulumi:dev::dockyard::dockyard:index:GoApp$dockyard:image:GoAppImage$docker:index/image:Image::server-image-image",
            custom: true,
            id: `${repo}:sha-live`,
            type: "docker:index/image:Image",
            outputs: { imageName: `${repo}:sha-live` },
            provider: `${provider.urn}::${provider.id}`,
            parent: stackUrn,
        });
        const file = path.join(work, "outputs.json");
        fs.writeFileSync(file, JSON.stringify(state));
        pulumi(["stack", "import", "--stack", "dev", "--file", file], { PULUMI_CONFIG_PASSPHRASE: "" });

        const listed = async () => (await dockerOk(["image", "ls", repo, "--format", "{{.Tag}}"])).split("\n").filter(Boolean).sort();
        let r = dev(["prune", "--keep", "1"]);
        assert.equal(r.code, 0, r.out);
        assert.equal((await listed()).length, 2, `in use + 1 kept: ${await listed()}`);
        assert.ok((await listed()).includes("sha-live"));
        r = dev(["prune"]);
        assert.equal(r.code, 0, r.out);
        assert.deepEqual(await listed(), ["sha-live"]);
        assert.match(r.out, /removed 1 image tag\(s\); kept .*:sha-live/);
        assert.match(dev(["prune", "--keep", "x"]).out, /--keep x: want a whole number/);
    });
});
