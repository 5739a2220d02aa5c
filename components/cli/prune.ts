// dockyard prune --stack <name> [--keep N]: removes the local image tags of the repositories a Docker-target
// stack builds that it no longer runs. Only those repositories are touched (the stack's own images, as its
// state names them), a tag in use is kept, and the engine's refusal of a tag a container still uses is final.
import { execFileSync } from "child_process";
import { docker } from "./containers";
import { UsageError, findProject, parseArgs, pulumi, required, selectStack } from "./project";
import type { Verb } from "./verb";

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

/** The parts of `pulumi stack export` prune reads. */
export interface ImageState {
    deployment: { resources?: { type: string; outputs?: Record<string, unknown> }[] };
}

/** The image names (`dockyard/server:sha-…`) the stack's images have: what it runs now. */
export function imagesInUse(state: ImageState): string[] {
    return (state.deployment.resources ?? [])
        .filter((r) => r.type === "docker:index/image:Image" && typeof r.outputs?.imageName === "string")
        .map((r) => r.outputs!.imageName as string)
        .sort();
}

export function pruneTags(inUse: string[], keep: number, log: (line: string) => void): LocalTag[] {
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
            log(`kept ${t.repository}:${t.tag}: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
        }
    }
    log(`removed ${removed.length} image tag(s); kept ${inUse.join(", ") || "nothing in use"}${keep > 0 ? ` and the ${keep} newest other tag(s) per repository` : ""}`);
    return removed;
}

const USAGE = "usage: dockyard prune --stack <name> [--keep N] [--create]";

export const prune: Verb = {
    summary: "remove the local image tags a Docker-target stack built and no longer runs",
    help: [
        USAGE,
        "",
        "Removes, from the local Docker engine, the tags of each image repository the stack's images use that the",
        "stack does not run now, keeping the N newest others per repository (default 0). Other repositories are",
        "never touched, and a tag a container still uses is kept (the engine refuses it; no --force). --create makes",
        "the stack when the backend has none (the dev loop's first command may be this one).",
        "Exit codes: 0 done; 2 bad input (a wrong stack, --keep not a whole number) or Docker/Pulumi failed.",
    ].join("\n"),
    async run(argv) {
        const { values, switches } = parseArgs(argv, ["--stack", "--keep"], ["--create"]);
        const stack = required(values, "--stack");
        const keep = values["--keep"] === undefined ? 0 : Number(values["--keep"]);
        if (!Number.isInteger(keep) || keep < 0) throw new UsageError(`--keep ${values["--keep"]}: want a whole number of tags to keep besides those in use, e.g. --keep 2`);
        const project = findProject(process.cwd());
        selectStack(project, stack, switches.has("--create"));
        const state = JSON.parse(pulumi(["stack", "export", "--stack", stack], project.root)) as ImageState;
        pruneTags(imagesInUse(state), keep, console.log);
        return 0;
    },
};
