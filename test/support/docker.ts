// Real-engine harness shared by the Docker tests and the benchmarks: it finds a
// BuildKit-capable client, starts dockerd when it can, and makes the offline
// Go base image that stands in for the registry's golang image.
import { spawn, spawnSync, execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

export const repoRoot = path.resolve(__dirname, "..", "..");
export const appsDir = path.join(repoRoot, "apps");

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

/**
 * The Docker client to drive. DOCKER_CLI wins; otherwise Debian's client, which
 * builds with BuildKit through the engine (a newer client without buildx can't).
 */
export function dockerCli(): string {
    if (process.env.DOCKER_CLI) return process.env.DOCKER_CLI;
    return fs.existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";
}

/** Runs a command to completion; `input` is piped to stdin. Never throws on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { input?: NodeJS.ReadableStream; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        // A command that exits before reading all its input is reported by its exit code, not EPIPE.
        child.stdin.on("error", () => undefined);
        if (opts.input) opts.input.pipe(child.stdin);
        else child.stdin.end();
    });
}

export function docker(args: string[], opts: { input?: NodeJS.ReadableStream } = {}): Promise<RunResult> {
    return run(dockerCli(), args, { ...opts, env: { DOCKER_BUILDKIT: "1" } });
}

/** Like docker(), but a non-zero exit is an error carrying the command's stderr. */
export async function dockerOk(args: string[], opts: { input?: NodeJS.ReadableStream } = {}): Promise<string> {
    const r = await docker(args, opts);
    if (r.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `probe` returns a value other than undefined, or fails naming `what`. */
export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(250);
    }
}

async function engineVersion(): Promise<string | undefined> {
    const r = await docker(["version", "--format", "{{.Server.Version}}"]).catch(() => undefined);
    return r && r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * Makes sure a Docker engine answers, starting dockerd in the background when
 * we are root and it is installed. A missing engine is an error, never a skip.
 */
export async function ensureEngine(): Promise<string> {
    const running = await engineVersion();
    if (running) return running;
    const canStart = process.getuid?.() === 0 && hasCommand("dockerd");
    if (!canStart) {
        throw new Error(`no Docker engine answers ${dockerCli()} and dockerd cannot be started here: install docker.io and start dockerd`);
    }
    const log = fs.openSync(path.join(os.tmpdir(), "dockyard-dockerd.log"), "a");
    spawn("dockerd", [], { detached: true, stdio: ["ignore", log, log] }).unref();
    return waitUntil("dockerd to answer (log: $TMPDIR/dockyard-dockerd.log)", 60_000, engineVersion);
}

function hasCommand(name: string): boolean {
    try {
        execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

/**
 * The stand-in for GO_IMAGE: the host's Go toolchain plus busybox for the
 * build stage's shell, imported as a local image (no registry is reachable).
 * Named after the toolchain version so a new Go makes a new image. One this call
 * creates is handed to `janitor`; one that already existed is left alone.
 */
export async function ensureGoBaseImage(janitor: Janitor): Promise<string> {
    const goroot = execFileSync("go", ["env", "GOROOT"]).toString().trim();
    const version = execFileSync("go", ["env", "GOVERSION"]).toString().trim().replace(/^go/, "");
    const sums = appModules().map((dir) => fs.readFileSync(path.join(dir, "go.sum")));
    // Named by the modules it serves too: an image made for other go.sum files would lack some.
    const ref = `dockyard-local/go:${version}-${createHash("sha256").update(Buffer.concat(sums)).digest("hex").slice(0, 12)}`;
    if ((await docker(["image", "inspect", ref])).code === 0) return ref;

    const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => fs.existsSync(p));
    if (!busybox) throw new Error("busybox is needed for the build stage's shell: apt-get install busybox-static");
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-go-base-"));
    try {
        for (const dir of ["bin", "tmp", "go", "root", "etc"]) fs.mkdirSync(path.join(stage, dir));
        fs.chmodSync(path.join(stage, "tmp"), 0o1777);
        fs.copyFileSync(busybox, path.join(stage, "bin", "busybox"));
        fs.chmodSync(path.join(stage, "bin", "busybox"), 0o755);
        fs.symlinkSync("busybox", path.join(stage, "bin", "sh"));
        fs.writeFileSync(path.join(stage, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        copyModuleProxy(path.join(stage, "goproxy"));

        // The toolchain keeps its host path, so GOROOT inside matches the host's.
        const tar = spawn("tar", ["-cf", "-", "-C", stage, ".", "-C", "/", path.relative("/", goroot)]);
        try {
            await dockerOk(
                [
                    "import",
                    "--change", `ENV PATH=${goroot}/bin:/go/bin:/bin`,
                    "--change", "ENV GOPATH=/go",
                    "--change", "ENV GOTOOLCHAIN=local",
                    // The apps' modules, from the host's module cache: a build here reaches no proxy.
                    "--change", "ENV GOPROXY=file:///goproxy",
                    "--change", "ENV GOSUMDB=off",
                    "-", ref,
                ],
                { input: tar.stdout },
            );
        } finally {
            tar.kill();
        }
        janitor.image(ref);
        return ref;
    } finally {
        fs.rmSync(stage, { recursive: true, force: true });
    }
}

/** The apps whose builds download modules (they have a go.sum). */
function appModules(): string[] {
    return fs
        .readdirSync(appsDir)
        .map((app) => path.join(appsDir, app))
        .filter((dir) => fs.existsSync(path.join(dir, "go.sum")))
        .sort();
}

/**
 * Every module the apps' builds download, as the host's Go fetched them (`go mod download`), laid out as a
 * module proxy (the module cache's download folder is one): GOPROXY=file:// serves them to `go mod download`
 * in the build, and go.sum still checks each one.
 */
function copyModuleProxy(into: string): void {
    const cache = path.join(execFileSync("go", ["env", "GOMODCACHE"]).toString().trim(), "cache", "download");
    for (const dir of appModules()) {
        const listed = execFileSync("go", ["mod", "download", "-json"], { cwd: dir, env: { ...process.env, GOFLAGS: "-mod=mod" } }).toString();
        const modules = JSON.parse(`[${listed.replace(/}\s*{/g, "},{")}]`) as { Path: string; Error?: string; Info?: string; GoMod?: string; Zip?: string }[];
        for (const m of modules) {
            if (m.Error) throw new Error(`go mod download in ${dir}: ${m.Path}: ${m.Error}`);
            for (const file of [m.Info, m.GoMod, m.Zip].filter((f): f is string => f !== undefined)) {
                const target = path.join(into, path.relative(cache, file));
                fs.mkdirSync(path.dirname(target), { recursive: true });
                fs.copyFileSync(file, target);
            }
        }
    }
}

/** An app written as outside users write theirs: see test/fixtures/greeter/main.go. */
export const greeterDir = path.join(repoRoot, "test", "fixtures", "greeter");
/** What greeter's Dockerfile builds FROM, by name, as most Go Dockerfiles do. */
export const GREETER_BASE = "golang:1.26";

/**
 * greeter's Dockerfile has no GO_IMAGE arg to point at the offline Go image, so that image stands in
 * under the name the Dockerfile uses, unless the engine already holds a real one (left as it is). A
 * tag this call makes goes with `janitor`; it only names the offline image, which stays.
 */
export async function ensureGreeterBase(janitor: Janitor, goImage: string): Promise<void> {
    if ((await docker(["image", "inspect", GREETER_BASE])).code === 0) return;
    await dockerOk(["tag", goImage, GREETER_BASE]);
    janitor.image(GREETER_BASE);
}

/** Builds apps/<app>/Dockerfile unchanged, with the offline base image as GO_IMAGE. */
export async function buildApp(app: string, tag: string, goImage: string, extra: string[] = []): Promise<void> {
    await dockerOk(["build", "--quiet", "--build-arg", `GO_IMAGE=${goImage}`, "-t", tag, ...extra, path.join(appsDir, app)]);
}

/** Everything a test run made, removed even when the run fails. */
export class Janitor {
    private readonly containers = new Set<string>();
    private readonly images = new Set<string>();

    container(name: string): string {
        this.containers.add(name);
        return name;
    }

    image(ref: string): string {
        this.images.add(ref);
        return ref;
    }

    async clean(): Promise<void> {
        if (this.containers.size) await docker(["rm", "-f", "-v", ...this.containers]);
        if (this.images.size) await docker(["rmi", "-f", ...this.images]);
        this.containers.clear();
        this.images.clear();
    }

    /** The same, synchronously: for an exit handler, where nothing asynchronous runs any more. */
    cleanSync(): void {
        const quiet = { stdio: "ignore" as const };
        if (this.containers.size) spawnSync(dockerCli(), ["rm", "-f", "-v", ...this.containers], quiet);
        if (this.images.size) spawnSync(dockerCli(), ["rmi", "-f", ...this.images], quiet);
        this.containers.clear();
        this.images.clear();
    }
}

/**
 * A throwaway registry (Debian's docker-registry) on a loopback port, which the
 * engine trusts over plain HTTP; with `auth`, behind that login (htpasswd). Stopped, with its storage
 * removed, by `stop`.
 */
export async function startRegistry(auth?: { username: string; password: string }): Promise<{ host: string; stop: () => void }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-registry-"));
    const port = await new Promise<number>((resolve, reject) => {
        const probe = net.createServer().listen(0, "127.0.0.1", () => {
            const p = (probe.address() as net.AddressInfo).port;
            probe.close(() => resolve(p));
        });
        probe.on("error", reject);
    });
    const config = path.join(dir, "config.yml");
    let authConfig = "";
    if (auth) {
        fs.writeFileSync(path.join(dir, "htpasswd"), execFileSync("htpasswd", ["-Bbn", auth.username, auth.password], { encoding: "utf8" }));
        authConfig = `auth:\n  htpasswd:\n    realm: dockyard\n    path: ${dir}/htpasswd\n`;
    }
    fs.writeFileSync(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n${authConfig}`);
    const proc = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
    const host = `127.0.0.1:${port}`;
    // Up once it answers the API: 200, or 401 with a login.
    await waitUntil(`the registry on ${host}`, 15_000, async () => {
        const res = await fetch(`http://${host}/v2/`).catch(() => undefined);
        await res?.body?.cancel();
        return res && (res.ok || res.status === 401) ? true : undefined;
    });
    return {
        host,
        stop: () => {
            proc.kill();
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

/** A name unique to this process, so parallel or leftover runs never collide. */
/** A loopback port free right now (the kernel picks it), for a server a test or benchmark starts. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** A GET as a user's client makes it, bounded at 5 s: its status and body. */
export async function httpGet(url: string): Promise<{ status: number; body: string }> {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
}

export function uniqueName(prefix: string): string {
    return `${prefix}-${process.pid}-${Date.now().toString(36)}`;
}
