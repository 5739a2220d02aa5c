// A stack's containers on the local Docker engine: which are its own (DockerWorkload labels each with its
// stack and project folder) and which of those an interrupted update left behind, for `dockyard recover`.
import { execFileSync } from "child_process";
import { PROJECT_DIR_LABEL, STACK_LABEL, namesStack } from "../internal/stack";

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

/** Runs the Docker CLI (`DOCKER` names another one). */
export function docker(args: string[]): string {
    return execFileSync(process.env.DOCKER ?? "docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
}

/**
 * The containers of this stack from this checkout: labelled with this project directory, and with a stack
 * label that names this stack (docker filters by the first; the second is read, as any organization counts).
 */
export function stackContainers(stack: string, projectDir: string): EngineContainer[] {
    const filters = [`label=${STACK_LABEL}`, `label=${PROJECT_DIR_LABEL}=${projectDir}`].flatMap((f) => ["--filter", f]);
    let out: string;
    try {
        out = docker(["ps", "--all", "--no-trunc", ...filters, "--format", `{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Label "${STACK_LABEL}"}}`]);
    } catch (e) {
        // No Docker CLI here: no container of this stack either.
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw e;
    }
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

