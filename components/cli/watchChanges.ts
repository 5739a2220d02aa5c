// What `dockyard watch` decides, apart from the file system and the engine it drives (watch.ts):
// which saves change what a deploy reads, when to start an update, which app an engine step belongs to, and
// the one line it prints per app.
import type * as automation from "@pulumi/pulumi/automation";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { parse } from "yaml";
import { contextFiles } from "../internal/contentTag";

/** File digests by path relative to the project. */
export type Snapshot = Map<string, string>;

/** Everything a deploy of the stack reads from the project, by what a change to it means. */
export interface Sources {
    /** By app name: its build context, relative to the project. */
    apps: Record<string, string>;
    /** The program's own files and the stack's config (read on every run of the engine). */
    program: string[];
    /** The local packages' sources (`--also`), built by `--prepare` before the program can use them. */
    packages: string[];
}

/** The same digests, taken at one moment. */
export interface SourceState {
    apps: Record<string, Snapshot>;
    program: Snapshot;
    packages: Snapshot;
}

/** What changed between two states, as relative paths. */
export interface Changes {
    /** By app: the files of its build context that changed (relative to the context). */
    apps: Record<string, string[]>;
    program: string[];
    packages: string[];
}

/**
 * The apps a stack's config deploys and where their contexts are (`dockyard:apps`, `dockyard:appsDir`), the
 * program's files at the project root, and the files of the local packages named (their build output and
 * dependencies left out).
 */
export function sourcesOf(root: string, stack: string, packages: string[] = []): Sources {
    const stackFile = `Pulumi.${stack}.yaml`;
    const config = (parse(fs.readFileSync(path.join(root, stackFile), "utf8")) ?? {}).config ?? {};
    const appsDir: string = config["dockyard:appsDir"] ?? "apps";
    const apps = Object.fromEntries(Object.keys(config["dockyard:apps"] ?? {}).map((app) => [app, path.join(appsDir, app)]));
    const rootFiles = fs.readdirSync(root).filter((f) => /\.ts$/.test(f) || /^tsconfig.*\.json$/.test(f) || f === "package.json" || f === "Pulumi.yaml");
    const sources = packages.flatMap((dir) => listFiles(root, dir, (rel) => !/\/(bin|node_modules)\//.test(`/${rel.slice(dir.length)}`) && /\.(ts|json)$/.test(rel)));
    return { apps, program: [...rootFiles, stackFile].sort(), packages: sources };
}

/** The files under `dir` (relative to `root`) that `keep` accepts, as sorted project-relative paths. */
function listFiles(root: string, dir: string, keep: (rel: string) => boolean): string[] {
    if (!fs.existsSync(path.join(root, dir))) return [];
    return (fs.readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true }) as fs.Dirent[])
        .filter((e) => e.isFile())
        .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
        .filter(keep)
        .sort();
}

/**
 * What a build of the app reads: the files the engine sends (its .dockerignore honoured, exactly as the
 * image's content tag counts them) and the Dockerfile, which is sent even when the ignore file names it.
 */
export function buildFiles(context: string): string[] {
    const dockerfile = path.join(context, "Dockerfile");
    const files = fs.existsSync(context) ? contextFiles(context, dockerfile) : [];
    return fs.existsSync(dockerfile) && !files.includes("Dockerfile") ? [...files, "Dockerfile"].sort() : files;
}

/** Digests of `files` under `dir`; a file that went away between listing and reading is left out. */
export function snapshot(dir: string, files: string[]): Snapshot {
    const digests: Snapshot = new Map();
    for (const file of files) {
        try {
            digests.set(file, crypto.createHash("sha256").update(fs.readFileSync(path.join(dir, file))).digest("hex"));
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        }
    }
    return digests;
}

export function takeState(root: string, sources: Sources): SourceState {
    const apps = Object.fromEntries(Object.entries(sources.apps).map(([app, dir]) => [app, snapshot(path.join(root, dir), buildFiles(path.join(root, dir)))]));
    return { apps, program: snapshot(root, sources.program), packages: snapshot(root, sources.packages) };
}

/** The paths added, removed or changed, sorted. */
export function changedFiles(before: Snapshot, after: Snapshot): string[] {
    const changed = [...after].filter(([file, digest]) => before.get(file) !== digest).map(([file]) => file);
    const removed = [...before.keys()].filter((file) => !after.has(file));
    return [...changed, ...removed].sort();
}

export function changes(before: SourceState, after: SourceState): Changes {
    const apps: Record<string, string[]> = {};
    for (const app of new Set([...Object.keys(before.apps), ...Object.keys(after.apps)])) {
        const files = changedFiles(before.apps[app] ?? new Map(), after.apps[app] ?? new Map());
        if (files.length > 0) apps[app] = files;
    }
    return { apps, program: changedFiles(before.program, after.program), packages: changedFiles(before.packages, after.packages) };
}

export function isEmpty(c: Changes): boolean {
    return Object.keys(c.apps).length === 0 && c.program.length === 0 && c.packages.length === 0;
}

/**
 * Runs `update` once per burst of `notify()` calls, after `quietMs` without one, and never two at once: a
 * notify during an update queues exactly one more, which starts after the same quiet period.
 */
export class UpdateQueue {
    private timer?: NodeJS.Timeout;
    private current?: Promise<void>;
    private queued = false;
    private stopped = false;
    /** When the first notify of the burst the next update serves came. */
    private burstStart?: number;

    constructor(
        private readonly update: (burstStart: number) => Promise<void>,
        private readonly quietMs: number,
        /** What an update threw; the next one still runs. */
        private readonly onError: (e: unknown) => void,
    ) {}

    notify(): void {
        if (this.stopped) return;
        this.burstStart ??= Date.now();
        if (this.current) {
            this.queued = true;
            return;
        }
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.start(), this.quietMs);
    }

    get running(): boolean {
        return this.current !== undefined;
    }

    /** Starts nothing more; what runs goes on. */
    stop(): void {
        this.stopped = true;
        clearTimeout(this.timer);
        this.timer = undefined;
    }

    /** Resolves once no update runs and none is waiting for its quiet period. */
    async idle(): Promise<void> {
        while (this.current || this.timer) await (this.current ?? new Promise((r) => setTimeout(r, this.quietMs)));
    }

    private start(): void {
        this.timer = undefined;
        const burstStart = this.burstStart ?? Date.now();
        this.burstStart = undefined;
        this.current = this.update(burstStart)
            .catch(this.onError)
            .finally(() => {
                this.current = undefined;
                if (this.queued && !this.stopped) {
                    this.queued = false;
                    this.timer = setTimeout(() => this.start(), this.quietMs);
                }
            });
    }
}

/** The component every app's resources sit under (compose.ts registers one per app). */
const APP_TYPE = "dockyard:index:GoApp";
const NO_CHANGE = new Set(["same", "read", "refresh", "discard", "discard-replaced", "remove-pending-replace"]);

/**
 * The steps of an update that changed something, by the app whose GoApp they sit under ("" for the rest),
 * from the engine's own events: each resource's parent comes with its step.
 */
export function stepsByApp(events: automation.EngineEvent[]): Map<string, string[]> {
    const parents = new Map<string, string | undefined>();
    const steps: { urn: string; op: string }[] = [];
    for (const e of events) {
        const m = e.resourcePreEvent?.metadata;
        if (!m) continue;
        parents.set(m.urn, m.new?.parent ?? m.old?.parent);
        if (!NO_CHANGE.has(m.op)) steps.push({ urn: m.urn, op: m.op });
    }
    const appOf = (urn: string | undefined): string => {
        for (let at = urn, hops = 0; at && hops < 64; at = parents.get(at), hops++) {
            if (urnType(at) === APP_TYPE) return at.slice(at.lastIndexOf("::") + 2);
        }
        return "";
    };
    const byApp = new Map<string, string[]>();
    for (const s of steps) {
        const app = appOf(s.urn);
        byApp.set(app, [...(byApp.get(app) ?? []), `${s.op} ${urnType(s.urn)}`]);
    }
    return byApp;
}

/** `urn:pulumi:dev::dockyard::a$b$docker:index/image:Image::server-image` → `docker:index/image:Image`. */
function urnType(urn: string): string {
    const parts = urn.split("::");
    const chain = parts[parts.length - 2] ?? "";
    return chain.slice(chain.lastIndexOf("$") + 1);
}

/** What one update did to one app, for its line. */
export interface AppResult {
    app: string;
    /** Files of its build context that changed; empty when the program, a package or the config did. */
    changed: string[];
    /** Said instead of the changed files, e.g. "deployed" on the first update. */
    what?: string;
    /** Seconds from the first save of the burst to the answer (or to the update's end, without one). */
    seconds: number;
    imageRef?: string;
    /** What the endpoint answered first (`200 "Hello…"`, `404 "…"`, or that it speaks no HTTP), or, for a job, the first line it printed. */
    answer?: string;
    endpoint?: string;
}

/** `registry/repo:sha-…` → `sha-…`; `repo@sha256:…` → `sha256:` and 12 hex digits. */
export function shortImage(ref: string): string {
    const at = ref.indexOf("@");
    if (at !== -1) return ref.slice(at + 1, at + 1 + "sha256:".length + 12);
    const colon = ref.lastIndexOf(":");
    return colon > ref.lastIndexOf("/") ? ref.slice(colon + 1) : ref;
}

/** One line per changed app: what changed, the new image, how long, what it answered. */
export function appLine(r: AppResult): string {
    const files = r.changed.length <= 3 ? `${r.changed.join(", ")} changed` : `${r.changed.length} files changed`;
    const what = r.what ?? (r.changed.length === 0 ? "redeployed" : files);
    const image = r.imageRef ? ` → ${shortImage(r.imageRef)}` : "";
    const reply = r.answer === undefined ? "" : r.endpoint ? `; ${r.endpoint} ${r.answer}` : `; printed "${oneLine(r.answer)}"`;
    return `${r.app}: ${what}${image} in ${r.seconds.toFixed(1)} s${reply}`;
}

function oneLine(text: string): string {
    const first = text.trim().split("\n")[0];
    return first.length > 72 ? `${first.slice(0, 71)}…` : first;
}

/**
 * What an endpoint answers first, as a line's tail: `answers 200 "Hello…"`, any other status too (an app may
 * serve nothing on `/`, or want a login: it is up all the same). Retried while nothing listens yet, until
 * `timeoutMs`; a port that accepts a connection but answers no HTTP within a second is said at once, so an
 * app that does not speak HTTP never holds the next update back.
 */
export async function firstAnswer(url: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const answer = await new Promise<string | undefined>((resolve) => {
            let connected = false;
            const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (d: string) => (text += d));
                res.on("end", () => resolve(`answers ${res.statusCode} "${oneLine(text)}"`));
                res.on("error", () => resolve(`answers ${res.statusCode}, then broke off`));
            });
            req.on("socket", (socket) => socket.on("connect", () => (connected = true)));
            req.on("timeout", () => req.destroy(new Error("timeout")));
            // Refused or reset before connecting: not listening yet. Connected, then no HTTP: another protocol.
            req.on("error", () => resolve(connected ? "accepts connections but answers no HTTP" : undefined));
        });
        if (answer !== undefined) return answer;
        if (Date.now() >= deadline) return `did not answer within ${Math.round(timeoutMs / 1000)} s`;
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** The error diagnostics of a failed update, without the engine's framing. */
export function engineErrors(events: automation.EngineEvent[]): string[] {
    return events
        .map((e) => e.diagnosticEvent)
        .filter((d): d is automation.DiagnosticEvent => d?.severity === "error")
        .map((d) => d.message.trim())
        .filter((m) => m && !/^update failed$/.test(m));
}
