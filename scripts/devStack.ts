// A stack on the local Docker engine: which containers are its own (recover removes those an interrupted
// update left, scripts/recover.ts) and `prune`, run by scripts/dev.sh, which removes the image tags it no
// longer uses. Both touch only what carries this stack's name: containers by their dockyard.dev/stack and
// dockyard.dev/project-dir labels (compose.ts sets them), images by the repositories the stack's outputs name.
import { namesStack } from "@dockyard/components";
import { execFileSync } from "child_process";

/** The label compose.ts puts on every container of a Docker stack. */
const STACK_LABEL = "dockyard.dev/stack";
const PROJECT_DIR_LABEL = "dockyard.dev/project-dir";
const CONTAINER_TYPE = "docker:index/container:Container";

/** The parts of `pulumi stack export` read here. */
export interface Deployment {
    deployment: { resources?: { type: string; id?: string; urn: string }[] };
}

/** A container of this stack on the engine, as `docker ps` lists it. */
export interface EngineContainer {
    id: string;
    name: string;
    state: string;
}

/**
 * The labelled containers the state does not list: an interrupted create made them (the engine never heard
 * back), and one may hold a fixed host port.
 */
export function orphanContainers(state: Deployment, containers: EngineContainer[]): EngineContainer[] {
    const tracked = new Set((state.deployment.resources ?? []).filter((r) => r.type === CONTAINER_TYPE && r.id).map((r) => r.id as string));
    return containers.filter((c) => !tracked.has(c.id));
}

/** One local tag of a repository, as `docker image ls` lists it. */
export interface LocalTag {
    repository: string;
    tag: string;
    /** When the image was created, as Docker prints it ("2026-11-25 12:18:09 +0000 UTC"). */
    created: string;
}

/**
 * The tags to remove: for every repository an image in use belongs to, all its tags but the ones
 * in use and the `keep` newest others (a quick way back to a recent build).
 */
export function tagsToPrune(tags: LocalTag[], inUse: string[], keep: number): LocalTag[] {
    const repositories = new Set(inUse.map(repositoryOf));
    const byNewest = [...tags].sort((a, b) => Date.parse(b.created.replace(/ [A-Z]+$/, "")) - Date.parse(a.created.replace(/ [A-Z]+$/, "")));
    const kept = new Map<string, number>();
    return byNewest.filter((t) => {
        if (!repositories.has(t.repository) || inUse.includes(`${t.repository}:${t.tag}`)) return false;
        const n = kept.get(t.repository) ?? 0;
        if (n < keep) {
            kept.set(t.repository, n + 1);
            return false;
        }
        return true;
    });
}

/** `dockyard/server:sha-…` → `dockyard/server`; a registry port is not a tag. */
export function repositoryOf(ref: string): string {
    const noDigest = ref.split("@")[0];
    const colon = noDigest.lastIndexOf(":");
    return colon > noDigest.lastIndexOf("/") ? noDigest.slice(0, colon) : noDigest;
}

/** The image refs a stack's `apps` output deploys. */
export function imagesInUse(apps: Record<string, { imageRef?: string }>): string[] {
    return Object.values(apps).flatMap((a) => (typeof a.imageRef === "string" ? [a.imageRef] : []));
}

function run(cmd: string, args: string[]): string {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
}

function docker(args: string[]): string {
    return run(process.env.DOCKER ?? "docker", args);
}

/**
 * The containers of this stack from this checkout: labelled with this project directory, and with a stack
 * label that names this stack (docker filters by the first; the second is read, as any organization counts).
 */
export function stackContainers(stack: string, projectDir: string): EngineContainer[] {
    const filters = [`label=${STACK_LABEL}`, `label=${PROJECT_DIR_LABEL}=${projectDir}`].flatMap((f) => ["--filter", f]);
    const out = docker(["ps", "--all", "--no-trunc", ...filters, "--format", `{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Label "${STACK_LABEL}"}}`]);
    return out
        .split("\n")
        .filter(Boolean)
        .map((line) => line.split("\t"))
        .filter(([, , , label]) => namesStack(label, stack))
        .map(([id, name, state]) => ({ id, name, state }));
}

/** Removes the containers, running or not; returns them. */
export function removeContainers(containers: EngineContainer[]): EngineContainer[] {
    for (const c of containers) docker(["rm", "--force", c.id]);
    return containers;
}

/** Whether a process with this pid runs on this host (one of another user counts too). */
export function isRunning(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

export function prune(stack: string, keep: number): LocalTag[] {
    const apps = JSON.parse(run("pulumi", ["stack", "output", "apps", "--json", "--stack", stack])) as Record<string, { imageRef?: string }>;
    const inUse = imagesInUse(apps);
    const tags: LocalTag[] = [];
    for (const repository of new Set(inUse.map(repositoryOf))) {
        for (const line of docker(["image", "ls", repository, "--format", "{{.Tag}}\t{{.CreatedAt}}"]).split("\n").filter(Boolean)) {
            const [tag, created] = line.split("\t");
            if (tag !== "<none>") tags.push({ repository, tag, created });
        }
    }
    const removed: LocalTag[] = [];
    for (const t of tagsToPrune(tags, inUse, keep)) {
        try {
            // No --force: the engine refuses a tag a container still uses, and that refusal is right.
            execFileSync(process.env.DOCKER ?? "docker", ["image", "rm", `${t.repository}:${t.tag}`], { stdio: ["ignore", "ignore", "pipe"] });
            removed.push(t);
        } catch (e) {
            console.log(`kept ${t.repository}:${t.tag}: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
        }
    }
    console.log(`removed ${removed.length} image tag(s); kept ${inUse.join(", ")}${keep > 0 ? ` and the ${keep} newest other tag(s) per app` : ""}`);
    return removed;
}

function main(argv: string[]): void {
    const [verb, stack, ...rest] = argv;
    if (verb === "prune" && stack) {
        const keepAt = rest.indexOf("--keep");
        const keep = keepAt === -1 ? 0 : Number(rest[keepAt + 1]);
        if (!Number.isInteger(keep) || keep < 0) throw new Error(`--keep ${rest[keepAt + 1]}: want a whole number of tags to keep besides those in use, e.g. --keep 2`);
        prune(stack, keep);
        return;
    }
    throw new Error("usage: devStack.ts prune <stack> [--keep N]");
}

if (require.main === module) {
    try {
        main(process.argv.slice(2));
    } catch (e) {
        console.error((e as Error).message);
        process.exit(1);
    }
}
