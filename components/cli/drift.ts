// dockyard drift --stack <stack>: what changed in the cluster behind Pulumi's back (a `kubectl scale`, a
// `kubectl set env`, an object deleted by hand), as a short list of objects and fields rather than the
// engine's full diff. It previews with a refresh (read from the cluster, never written: a preview keeps no
// state) and reports every step the next `up`, which refreshes too, would take to put things back. The
// project's program runs with DOCKYARD_IMAGES_FROM naming the stack, so a program that honours it (this
// repository's takes the stack's own outputs, as promotion reads them) builds nothing, and a commit not
// deployed yet is not drift. Exit code 0: no drift; 1: drift; 2: the check itself failed. With
// GITHUB_STEP_SUMMARY set (a workflow), the list goes there too.
// Types only at load: the SDK loads when a verb runs, so `dockyard --help` and refusals stay quick.
import type * as automation from "@pulumi/pulumi/automation";
import * as fs from "fs";
import { findProject, parseArgs, projectProgram, required, requireStack } from "./project";
import type { Verb } from "./verb";

/** One object the next `up` would change, and the fields it would put back. */
export interface Drifted {
    /** `Deployment dockyard-staging/server` */
    object: string;
    /** What `up` would do: update, replace, create (the object is gone), delete. */
    op: string;
    /** The fields that differ, as property paths (`spec.replicas`); empty when the whole object is. */
    fields: string[];
}

const CHANGES = new Set(["update", "replace", "create", "create-replacement", "delete", "delete-replaced"]);

/** The object a step acts on, by kind, namespace and name where it is a Kubernetes object. */
function describe(meta: automation.StepEventMetadata): string {
    const state = meta.old ?? meta.new;
    const metadata = (state?.outputs?.metadata ?? state?.inputs?.metadata) as { name?: string; namespace?: string } | undefined;
    const kind = meta.type.split(":").pop() ?? meta.type;
    if (!meta.type.startsWith("kubernetes:") || !metadata?.name) return `${kind} ${meta.urn.split("::").pop()}`;
    return `${kind} ${metadata.namespace ? `${metadata.namespace}/` : ""}${metadata.name}`;
}

/** The drift a refreshed preview's events show: every step that is not a no-op, with the paths it changes. */
export function driftFrom(events: automation.EngineEvent[]): Drifted[] {
    const drifted = new Map<string, Drifted>();
    for (const e of events) {
        const meta = e.resourcePreEvent?.metadata;
        if (!meta || !CHANGES.has(meta.op) || meta.type.startsWith("pulumi:")) continue;
        const fields = Object.keys(meta.detailedDiff ?? {}).length > 0 ? Object.keys(meta.detailedDiff ?? {}) : (meta.diffs ?? []);
        // An update that names no property changes none: the Kubernetes provider sometimes reports one after a
        // refresh (seen on a Service nobody had touched). Nothing in the cluster differs from the program there.
        if (meta.op === "update" && fields.length === 0) continue;
        const op = meta.op === "create-replacement" || meta.op === "delete-replaced" ? "replace" : meta.op;
        const key = meta.urn;
        const seen = drifted.get(key);
        drifted.set(key, { object: describe(meta), op: seen?.op ?? op, fields: [...new Set([...(seen?.fields ?? []), ...fields])].sort() });
    }
    return [...drifted.values()].sort((a, b) => a.object.localeCompare(b.object));
}

/** The list as a person reads it: one line per object. */
export function formatDrift(stack: string, drifted: Drifted[]): string {
    if (drifted.length === 0) return `stack ${stack}: no drift; the cluster matches what the program deploys`;
    const lines = drifted.map((d) => `  ${d.object}: ${d.op === "create" ? "missing (deleted outside Pulumi)" : d.op === "delete" ? "would be deleted" : d.fields.join(", ") || d.op}`);
    return [`stack ${stack}: ${drifted.length} object(s) drifted; the next up puts them back:`, ...lines].join("\n");
}

/** A preview of the stack after a refresh from the cluster, its state left as it was; its drift. */
export async function drift(stack: automation.Stack): Promise<Drifted[]> {
    const events: automation.EngineEvent[] = [];
    await stack.preview({ refresh: true, diff: true, color: "never", onEvent: (e) => events.push(e) });
    return driftFrom(events);
}

/**
 * The environment variable `dockyard drift` sets to the stack it checks while the project's program runs: a
 * program that builds its images should then deploy the images that stack last deployed (its outputs), so
 * that a commit not deployed yet is not drift. The repository's own program does, through `promoteFrom`.
 */
export const IMAGES_FROM = "DOCKYARD_IMAGES_FROM";

const USAGE = "usage: dockyard drift --stack <name>";

export const driftVerb: Verb = {
    summary: "name, by object and field, what changed in the cluster behind Pulumi's back",
    help: [
        USAGE,
        "",
        "Previews the stack after a refresh from the cluster (read, never written) and lists every object the next",
        "up would put back, with the fields that differ, or that it is missing. The project's program runs in this",
        `process (no language host) with ${IMAGES_FROM}=<stack> set, so a program can deploy the images the stack`,
        "runs now rather than build new ones. With GITHUB_STEP_SUMMARY set the list goes there too.",
        "Exit codes: 0 no drift; 1 drift; 2 bad input or the check itself failed.",
    ].join("\n"),
    async run(argv) {
        const { values } = parseArgs(argv, ["--stack"]);
        const stackName = required(values, "--stack");
        const project = findProject(process.cwd());
        requireStack(project, stackName);
        process.env[IMAGES_FROM] = stackName;
        const program = projectProgram(project.root);
        const stack = await (await import("@pulumi/pulumi/automation")).LocalWorkspace.selectStack({ stackName, projectName: project.name, program }, { workDir: project.root });
        const drifted = await drift(stack);
        const text = formatDrift(stackName, drifted);
        console.log(text);
        const summary = process.env.GITHUB_STEP_SUMMARY;
        if (summary) fs.appendFileSync(summary, `## Drift: ${stackName}\n\n\`\`\`\n${text}\n\`\`\`\n`);
        return drifted.length === 0 ? 0 : 1;
    },
};
