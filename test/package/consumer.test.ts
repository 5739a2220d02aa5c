// The component package as an outside program gets it: packed, installed from
// the tarball into a fresh project, used from JavaScript and type-checked from TypeScript.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable } from "stream";
import { Janitor, dockerCli, dockerOk, ensureEngine, repoRoot, uniqueName } from "../support/docker";

const sh = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

const readJson = (...at: string[]) => JSON.parse(fs.readFileSync(path.join(repoRoot, ...at), "utf8"));
const installedVersion = (pkg: string): string => readJson("node_modules", pkg, "package.json").version;
const peers: Record<string, string> = readJson("components", "package.json").peerDependencies;

/** The lowest version a peer range admits; each range is a caret range, so its floor is what follows the caret. */
function floor(pkg: string): string {
    const m = /^\^(\d+\.\d+\.\d+)$/.exec(peers[pkg] ?? "");
    if (!m) throw new Error(`components/package.json: peer ${pkg} = ${JSON.stringify(peers[pkg])}: expected a caret range`);
    return m[1];
}

// The package is tested with the SDKs this program uses and with the oldest its peer ranges promise
// (the Pulumi SDKs; the S3 client is an optional peer only `dockyard recover` loads, on an S3 backend).
const sdkSets: { name: string; version: (pkg: string) => string }[] = [
    { name: "the current SDKs", version: installedVersion },
    { name: "the oldest SDKs its peer ranges admit", version: floor },
];
const sdks = ["@pulumi/pulumi", "@pulumi/docker", "@pulumi/kubernetes"];
const VERBS = ["up", "preview", "destroy", "watch", "recover", "drift", "prune", "preview-comment", "build-log"];

const program = `
const pulumi = require("@pulumi/pulumi");
const seen = [];
pulumi.runtime.setMocks({
    newResource: (args) => {
        seen.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: args.name + "-id", state: { ...args.inputs, repoDigest: "x@sha256:" + "0".repeat(64) } };
    },
    call: (args) => args.inputs,
}, "consumer", "test", false);
const { GoApp } = require("@dockyard/components");
const app = new GoApp("web", { appDir: process.argv[2], target: "docker", docker: { hostPort: 18080 } });
pulumi.all([app.imageRef, app.endpoint, app.workload.container.urn]).apply(([imageRef, endpoint]) => {
    console.log(JSON.stringify({ imageRef, endpoint, seen }));
});
`;

// Someone else's app (test/fixtures/greeter: port 9090, no HEALTHCHECK, no health paths, no GO_IMAGE arg).
// Under mocks the SDK writes warnings to console.warn: the program collects them.
const greeterProgram = `
const pulumi = require("@pulumi/pulumi");
const seen = [];
const warnings = [];
console.warn = (...args) => warnings.push(args.join(" "));
pulumi.runtime.setMocks({
    newResource: (args) => {
        seen.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: args.name + "-id", state: args.inputs };
    },
    call: (args) => args.inputs,
}, "consumer", "test", false);
const { GoApp } = require("@dockyard/components");
const onDocker = new GoApp("greeter", { appDir: process.argv[2], target: "docker", image: { goImage: "golang:1.26" } });
const onKubernetes = new GoApp("greeter-k8s", { target: "kubernetes", port: 9090, image: { ref: "registry.example.com/greeter@sha256:" + "e".repeat(64) } });
pulumi.all([onDocker.workload.container.urn, onKubernetes.workload.deployment.urn]).apply(() => {
    console.log(JSON.stringify({ seen, warnings }));
});
`;

const typedConsumer = `
import { GoApp, type GoAppArgs, InvalidArgsError, validateGoAppArgs } from "@dockyard/components";
const args: GoAppArgs = { appDir: "apps/server", target: "kubernetes", kubernetes: { replicas: 2, serviceType: "ClusterIP" } };
const problems = validateGoAppArgs(args);
if (problems.length === 0) new GoApp("web", args);
export const isError = (e: unknown) => e instanceof InvalidArgsError;
`;

describe("the published component package", function () {
    this.timeout(240_000);

    it("ships compiled JavaScript and declarations, no sources or tests", () => {
        const files: string[] = JSON.parse(sh("npm", ["pack", "--dry-run", "--json"], path.join(repoRoot, "components")))[0].files.map((f: { path: string }) => f.path);
        assert.ok(files.includes("bin/index.js") && files.includes("bin/index.d.ts") && files.includes("README.md"), files.join(", "));
        assert.deepEqual(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")), []);
        assert.deepEqual(files.filter((f) => /tsbuildinfo|\.map$/.test(f)), []);
    });

    it("names every SDK it needs as a peer; the S3 client (recover in an S3 backend only) as an optional one", () => {
        assert.deepEqual(Object.keys(peers).sort(), [...sdks, "@aws-sdk/client-s3"].sort());
        assert.deepEqual(readJson("components", "package.json").peerDependenciesMeta, { "@aws-sdk/client-s3": { optional: true } });
    });

    for (const set of sdkSets) {
        describe(`installed from its tarball beside ${set.name}`, () => {
            let project: string;
            const wanted = sdks.map((pkg) => `${pkg}@${set.version(pkg)}`);

            before(() => {
                project = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-consumer-"));
                const packed = JSON.parse(sh("npm", ["pack", "--json", "--pack-destination", project], path.join(repoRoot, "components")));
                fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, main: "index.js" }));
                sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", path.join(project, packed[0].filename), ...wanted], project);
            });

            after(() => fs.rmSync(project, { recursive: true, force: true }));

            it(`resolves exactly ${wanted.join(", ")}`, () => {
                const installed = sdks.map((pkg) => `${pkg}@${JSON.parse(fs.readFileSync(path.join(project, "node_modules", pkg, "package.json"), "utf8")).version}`);
                assert.deepEqual(installed, wanted);
            });

            it("builds a GoApp in a fresh program under mocks", () => {
                fs.writeFileSync(path.join(project, "index.js"), program);
                const out = JSON.parse(sh("node", ["index.js", path.join(repoRoot, "apps", "server")], project).trim().split("\n").pop()!);
                assert.match(out.imageRef, /^dockyard\/server:sha-[0-9a-f]{20}$/);
                assert.equal(out.endpoint, "http://127.0.0.1:18080");
                const types = out.seen.map((r: { type: string }) => r.type).sort();
                assert.deepEqual(types, [
                    "docker:index/container:Container",
                    "docker:index/image:Image",
                    "dockyard:docker:DockerWorkload",
                    "dockyard:image:GoAppImage",
                    "dockyard:index:GoApp",
                ]);
            });

            it("runs an app it did not grow up with: no health wait without a HEALTHCHECK, TCP probes, the warnings", () => {
                fs.writeFileSync(path.join(project, "greeter.js"), greeterProgram);
                const out = JSON.parse(sh("node", ["greeter.js", path.join(repoRoot, "test", "fixtures", "greeter")], project).trim().split("\n").pop()!);
                const input = (type: string, name: string) => out.seen.find((r: { type: string; name: string }) => r.type === type && r.name === name)?.inputs;
                const container = input("docker:index/container:Container", "greeter-workload-container");
                assert.equal(container.wait, false);
                assert.equal(container.healthcheck, undefined);
                assert.equal(container.mustRun, true);
                const [c] = input("kubernetes:apps/v1:Deployment", "greeter-k8s-workload-deployment").spec.template.spec.containers;
                assert.deepEqual([c.readinessProbe.tcpSocket, c.livenessProbe.tcpSocket], [{ port: "http" }, { port: "http" }]);
                assert.deepEqual(c.ports, [{ name: "http", containerPort: 9090, protocol: "TCP" }]);
                const warnings = out.warnings.join("\n");
                assert.match(warnings, /app "greeter": build arg GO_IMAGE \(from goImage\) is not declared in \S+greeter\/Dockerfile, so the build ignores it/);
                assert.match(warnings, /greeter-workload: the image has no HEALTHCHECK, so `pulumi up` waits only for the container to be running/);
                assert.match(warnings, /the Dockerfile EXPOSEs 9090 but port is 8080 \(the default\)/);
            });

            it("ships the dockyard command: --help lists every verb, and each verb says its usage and exit codes", () => {
                const help = sh("npx", ["--no-install", "dockyard", "--help"], project);
                for (const verb of VERBS) {
                    assert.match(help, new RegExp(`^  ${verb}\\s+\\S`, "m"), `dockyard --help lists ${verb}`);
                    const own = sh("npx", ["--no-install", "dockyard", verb, "--help"], project);
                    assert.match(own, new RegExp(`^usage: .*dockyard ${verb}\\b`, "m"));
                    assert.match(own, /^Exit codes: \d+ /m);
                }
            });

            // Refusals do not depend on the SDKs' versions: checked once.
            // The state is a test double (a Docker-target stack needs the docker provider, which cannot be had
            // here); the images and the engine that removes them are real.
            if (set === sdkSets[0]) it("dockyard prune removes only this project's old tags from the real Docker engine", async () => {
                await ensureEngine();
                const ours = uniqueName("dockyard-prune/web");
                const theirs = uniqueName("dockyard-prune/other");
                const janitor = new Janitor();
                const image = async (ref: string, n: number) =>
                    dockerOk(["build", "-q", "-t", janitor.image(ref), "-"], { input: Readable.from([`FROM scratch\nLABEL round=${n}\n`]) });
                try {
                    await image(`${ours}:sha-old1`, 1);
                    await image(`${ours}:sha-old2`, 2);
                    await image(`${ours}:sha-live`, 3);
                    await image(`${theirs}:sha-old`, 4);
                    const state = { deployment: { resources: [{ type: "docker:index/image:Image", outputs: { imageName: `${ours}:sha-live` } }] } };
                    const fake = path.join(project, "fake-pulumi-prune");
                    fs.writeFileSync(
                        fake,
                        `#!/bin/sh\n[ "$1 $2 $3" = "stack ls --json" ] && echo '[{"name":"dev"}]' && exit 0\n` +
                            `[ "$1 $2" = "stack export" ] && echo '${JSON.stringify(state)}' && exit 0\necho "not expected: $*" >&2; exit 3\n`,
                        { mode: 0o755 },
                    );
                    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: consumer\nruntime: nodejs\n");
                    const r = spawnSync(path.join(project, "node_modules", ".bin", "dockyard"), ["prune", "--stack", "dev"], { cwd: project, env: { ...process.env, PULUMI: fake, DOCKER: dockerCli() }, encoding: "utf8" });
                    assert.equal(r.status, 0, r.stderr);
                    assert.match(r.stdout, new RegExp(`removed 2 image tag\\(s\\); kept ${ours}:sha-live`));
                    const tags = async (repo: string) => (await dockerOk(["image", "ls", repo, "--format", "{{.Tag}}"])).split("\n").filter(Boolean).sort();
                    assert.deepEqual(await tags(ours), ["sha-live"]);
                    assert.deepEqual(await tags(theirs), ["sha-old"], "another project's repository is never touched");
                } finally {
                    fs.rmSync(path.join(project, "Pulumi.yaml"), { force: true });
                    await janitor.clean();
                }
            });

            if (set === sdkSets[0]) it("dockyard refuses bad input by name, exit code 2, before it touches anything", () => {
                const dockyard = (args: string[], cwd = project, env: NodeJS.ProcessEnv = {}) => {
                    // The project's installed command, run from elsewhere too (a folder outside any project).
                    const r = spawnSync(path.join(project, "node_modules", ".bin", "dockyard"), args, { cwd, env: { ...process.env, ...env }, encoding: "utf8" });
                    return { code: r.status, err: r.stderr };
                };
                // A CLI that knows one stack, dev, and answers nothing else: what a refusal may ask before it refuses.
                const fake = path.join(project, "fake-pulumi");
                fs.writeFileSync(fake, `#!/bin/sh\n[ "$1 $2 $3" = "stack ls --json" ] && echo '[{"name":"dev"}]' && exit 0\necho "not expected: $*" >&2; exit 3\n`, { mode: 0o755 });
                const outside = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-outside-"));
                fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: consumer\nruntime: nodejs\n");
                const other = path.join(outside, "other");
                fs.mkdirSync(other);
                fs.writeFileSync(path.join(other, "Pulumi.yaml"), "name: other\nruntime: nodejs\n");
                fs.writeFileSync(path.join(other, "package.json"), JSON.stringify({ name: "other", dependencies: { "@pulumi/pulumi": "^3" } }));
                const cases: [string[], string, RegExp, NodeJS.ProcessEnv?][] = [
                    [["deploy"], project, /no verb "deploy" \(verbs: up, preview, destroy, watch, recover, drift, prune, preview-comment, build-log\)/],
                    [["drift"], project, /dockyard drift: --stack is required\nusage: dockyard drift --stack <name>/],
                    [["recover", "--stack", "dev", "--forse"], project, /dockyard recover: not understood: --forse/],
                    [["prune", "--stack", "dev", "--keep", "x"], project, /--keep x: want a whole number/],
                    [["preview-comment", "--stack", "dev", "--output", "p.txt", "--run-url", "u", "--succeeded", "maybe"], project, /--succeeded maybe: want true or false/],
                    [["recover", "--stack", "dev"], outside, /no Pulumi.yaml in \S+ or above it: run dockyard inside a Pulumi project/],
                    [["drift", "--stack", "dev"], other, /project other \(\S+\) does not use @dockyard\/components/],
                    [["recover", "--stack", "dev"], project, /the Pulumi CLI is not on PATH/, { PULUMI: path.join(outside, "no-such-pulumi") }],
                    [["drift", "--stack", "prod"], project, /--stack prod: project consumer has no such stack on this backend \(it has: dev\)/, { PULUMI: fake }],
                    [["prune", "--stack", "staging"], project, /--stack staging: project consumer has no such stack/, { PULUMI: fake }],
                ];
                try {
                    for (const [args, cwd, message, env] of cases) {
                        const r = dockyard(args, cwd, env);
                        assert.equal(r.code, 2, `dockyard ${args.join(" ")}: ${r.err}`);
                        assert.match(r.err, message);
                    }
                } finally {
                    fs.rmSync(outside, { recursive: true, force: true });
                    fs.rmSync(path.join(project, "Pulumi.yaml"));
                }
            });

            it("type-checks a TypeScript consumer, and keeps internals out of the declarations", () => {
                fs.writeFileSync(path.join(project, "consumer.ts"), typedConsumer);
                fs.writeFileSync(path.join(project, "internal.ts"), `import { throwIfAny } from "@dockyard/components/bin/internal/problems";\nthrowIfAny("x", []);\n`);
                const tsc = path.join(repoRoot, "node_modules", ".bin", "tsc");
                const flags = ["--noEmit", "--strict", "--esModuleInterop", "--skipLibCheck", "--module", "commonjs", "--target", "es2022", "--types", "node", "--typeRoots", path.join(repoRoot, "node_modules", "@types")];
                sh(tsc, [...flags, "consumer.ts"], project);
                let error = "";
                try {
                    sh(tsc, [...flags, "internal.ts"], project);
                } catch (e) {
                    error = String((e as { stdout?: string }).stdout);
                }
                assert.match(error, /has no exported member 'throwIfAny'/);
            });
        });
    }
});
