// One version of each tool, everywhere it is named: the Pulumi SDK, the CLI the suite builds and the
// workflows install, and the Node.js CI and the workflows run on, which `engines` must admit.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as semver from "semver";
import { parse } from "yaml";
import { repoRoot } from "../support/docker";

const read = (...at: string[]) => fs.readFileSync(path.join(repoRoot, ...at), "utf8");
const engineScript = (name: string) => read("test", "harness", "engines", name);
const json = (...at: string[]) => JSON.parse(read(...at));
const pulumiVersion = read(".pulumi.version").trim();
const nodeVersion = read(".node-version").trim();
const olderNode = /install-node\.sh (\d+\.\d+\.\d+)/.exec(read("test", "node22", "run.sh"))?.[1];

interface Step { uses?: string; with?: Record<string, string> }
function steps(): { file: string; step: Step }[] {
    const files = [
        ...fs.readdirSync(path.join(repoRoot, ".github", "workflows")).map((f) => path.join(".github", "workflows", f)),
        path.join(".github", "actions", "pulumi-setup", "action.yml"),
    ];
    return files.flatMap((file) => {
        const doc = parse(read(file));
        const all: Step[] = doc.runs ? doc.runs.steps : Object.values(doc.jobs as Record<string, { steps?: Step[] }>).flatMap((j) => j.steps ?? []);
        return all.map((step) => ({ file, step }));
    });
}

describe("toolchain versions", () => {
    it("the SDK is pinned to .pulumi.version, and that is what is installed", () => {
        assert.match(pulumiVersion, /^\d+\.\d+\.\d+$/);
        assert.equal(json("package.json").dependencies["@pulumi/pulumi"], pulumiVersion);
        assert.equal(json("node_modules", "@pulumi", "pulumi", "package.json").version, pulumiVersion);
    });

    it("every step that installs the Pulumi CLI installs .pulumi.version", () => {
        const pulumi = steps().filter(({ step }) => step.uses?.startsWith("pulumi/actions@"));
        assert.ok(pulumi.length >= 3, `found ${pulumi.length} pulumi/actions steps`);
        for (const { file, step } of pulumi) assert.equal(step.with?.["pulumi-version-file"], ".pulumi.version", `${file}: ${step.uses}`);
    });

    it("every step that sets up Node.js takes .node-version", () => {
        const node = steps().filter(({ step }) => step.uses?.startsWith("actions/setup-node@"));
        assert.ok(node.length >= 3, `found ${node.length} setup-node steps`);
        for (const { file, step } of node) {
            assert.equal(step.with?.["node-version-file"], ".node-version", file);
            assert.equal(step.with?.["node-version"], undefined, file);
        }
    });

    it("engines admit the Node.js CI runs on and the older LTS it also tests, and refuse Node 20", () => {
        assert.ok(olderNode, "test/node22/run.sh names no Node.js version");
        for (const pkg of [json("package.json"), json("components", "package.json")]) {
            const range = pkg.engines.node;
            assert.ok(semver.satisfies(nodeVersion, range), `${pkg.name}: ${range} refuses ${nodeVersion}`);
            assert.ok(semver.satisfies(olderNode, range), `${pkg.name}: ${range} refuses ${olderNode}`);
            assert.ok(!semver.satisfies("20.19.0", range), `${pkg.name}: ${range} admits Node 20`);
        }
        assert.equal(semver.major(olderNode), 22);
        assert.equal(semver.major(nodeVersion), 24);
    });

    it("the installed SDK's own engines admit both Node.js versions", () => {
        const range = json("node_modules", "@pulumi", "pulumi", "package.json").engines.node;
        for (const v of [nodeVersion, olderNode!]) assert.ok(semver.satisfies(v, range), `@pulumi/pulumi wants ${range}, CI runs ${v}`);
    });

    it("the engine cache key covers every file that pins an engine's version or source", () => {
        // A file an engine script reads its version from (`../../../.pulumi.version`), or a folder it builds
        // from (`../kubernetes`), must change the key, or a bumped version keeps hitting the old cache:
        // rebuilt on every run, never saved again.
        const engines = path.join(repoRoot, "test", "harness", "engines");
        const pinned = fs.readdirSync(engines).flatMap((f) =>
            [...engineScript(f).matchAll(/((?:\.\.\/)+[\w.-]+)/g)].map((m) => {
                const at = path.relative(repoRoot, path.resolve(engines, m[1]));
                return fs.statSync(path.join(repoRoot, at)).isDirectory() ? `${at}/**` : at;
            }),
        );
        assert.ok(pinned.includes(".pulumi.version"), `the engine scripts read ${pinned.join(", ")}`);
        assert.ok(pinned.includes("test/harness/kubernetes/**"), `the engine scripts read ${pinned.join(", ")}`);
        const caches = steps().filter(({ step }) => step.uses?.startsWith("actions/cache@") && String(step.with?.path).includes("engines"));
        assert.ok(caches.length >= 2, `found ${caches.length} engine cache steps`);
        for (const { file, step } of caches) {
            const key = String(step.with?.key);
            for (const f of ["test/harness/engines/*.sh", ...pinned]) assert.ok(key.includes(`'${f}'`), `${file}: the key ${key} misses ${f}`);
        }
    });

    it("deploy, drift and recover hold one concurrency group per stack", () => {
        const group = (file: string, job: string) => {
            const doc = parse(read(".github", "workflows", file));
            return String(doc.jobs[job].concurrency?.group ?? doc.concurrency?.group);
        };
        assert.equal(group("deploy.yml", "staging"), "stack-staging");
        assert.equal(group("deploy.yml", "prod"), "stack-prod");
        assert.equal(group("drift.yml", "drift"), "stack-${{ matrix.stack }}");
        assert.equal(group("recover.yml", "recover"), "stack-${{ inputs.stack }}");
        for (const file of ["deploy.yml", "drift.yml", "recover.yml"]) assert.doesNotMatch(read(".github", "workflows", file), /cancel-in-progress: true/, file);
    });
});
