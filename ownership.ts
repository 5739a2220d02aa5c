// Never adopt what isn't ours. The Kubernetes provider creates objects with server-side apply, which
// turns a create into an upsert: an object someone else made under the same name would silently become
// this stack's, and `destroy` would delete it. So before anything is registered, in previews too, the
// program reads every object it is about to create under a fixed name and refuses those another owner holds.
import { GoApp, type KubernetesObjectRef, STACK_ANNOTATION, namesStack } from "@dockyard/components";
import * as pulumi from "@pulumi/pulumi";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { StackPlan } from "./config";

/** An object the program would create, and where. */
export interface PlannedObject extends KubernetesObjectRef {
    /** Undefined: the provider's default namespace (`kubernetes:namespace`, else the kubeconfig context's). */
    namespace?: string;
}

/** The parts of an object in the cluster the program reads. */
export interface ClusterObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    /** A ConfigMap's data: a job's run record. */
    data?: Record<string, string>;
}

/** A planned object that another owner's object already holds. */
export interface ForeignObject {
    planned: PlannedObject;
    /** Why it is not this stack's. */
    reason: string;
}

/** The objects a plan creates under fixed names, each with its namespace. */
export function plannedObjects(plan: StackPlan, defaultNamespace?: string): PlannedObject[] {
    return plan.apps.flatMap(({ name, args }) =>
        GoApp.kubernetesObjects(name, args).map((ref) => ({ ...ref, namespace: plan.namespace ?? defaultNamespace })),
    );
}

/**
 * Why an existing object is not this stack's, or undefined when it is: it names this stack (project and
 * stack, whatever the backend or organization) in its `dockyard.dev/stack` annotation, or it predates that annotation and carries the labels this same
 * component gave it then (a stack deployed before the annotation existed keeps deploying).
 */
export function notOurs(existing: ClusterObject, planned: KubernetesObjectRef, stack: string): string | undefined {
    const owner = existing.metadata.annotations?.[STACK_ANNOTATION];
    if (namesStack(owner, stack)) return undefined;
    if (owner !== undefined) return `it belongs to stack ${owner}`;
    const labels = existing.metadata.labels ?? {};
    const madeByThisComponent =
        labels["app.kubernetes.io/managed-by"] === "pulumi" && labels["app.kubernetes.io/part-of"] === "dockyard" && labels["app.kubernetes.io/instance"] === planned.instance;
    return madeByThisComponent ? undefined : `it has no ${STACK_ANNOTATION} annotation: someone else made it`;
}

const group = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0] : "");

/** The planned objects that exist in the cluster and are not this stack's. */
export function foreignObjects(planned: PlannedObject[], existing: ClusterObject[], stack: string): ForeignObject[] {
    return planned.flatMap((p) => {
        const found = existing.find(
            (e) => e.kind === p.kind && group(e.apiVersion) === group(p.apiVersion) && e.metadata.name === p.name && (p.namespace === undefined || e.metadata.namespace === p.namespace),
        );
        const reason = found && notOurs(found, p, stack);
        return reason ? [{ planned: { ...p, namespace: p.namespace ?? found.metadata.namespace }, reason }] : [];
    });
}

/** Refused before anything is created; a RunError, so the CLI prints this message alone. */
export class ForeignObjectsError extends pulumi.RunError {
    constructor(
        readonly foreign: ForeignObject[],
        stack: string,
    ) {
        super(
            `objects this stack would create already exist and are not its own (${stack}); nothing was created:\n` +
                foreign.map((f) => `  - ${f.planned.kind} ${f.planned.namespace ?? "(default namespace)"}/${f.planned.name}: ${f.reason}`).join("\n") +
                `\nDelete or rename them, or deploy to another namespace (dockyard:namespace). ` +
                `Objects a killed update of this stack made carry its ${STACK_ANNOTATION} annotation and are taken back (npm run recover).`,
        );
        this.name = "ForeignObjectsError";
    }
}

/** Reads the named objects from the cluster; those that do not exist are left out. */
export type ClusterReader = (objects: PlannedObject[]) => Promise<ClusterObject[]>;

/** The resource argument kubectl takes for an object: `deployments.v1.apps/server`, `services/server`. */
export function kubectlResource(ref: KubernetesObjectRef): string {
    const plural = `${ref.kind.toLowerCase()}s`;
    const [g, version] = ref.apiVersion.includes("/") ? ref.apiVersion.split("/") : ["", ref.apiVersion];
    return `${g ? `${plural}.${version}.${g}` : plural}/${ref.name}`;
}

/** Where the provider's cluster is: `kubernetes:kubeconfig` (a path or the file's contents), `:context`, `:cluster`. */
export interface ClusterSettings {
    kubeconfig?: string;
    context?: string;
    cluster?: string;
}

/**
 * Runs `kubectl <args> -o json` against the cluster the provider deploys to: the given settings when set,
 * else what kubectl finds itself (`KUBECONFIG`, `~/.kube/config`), as the provider does. Objects a `get
 * --ignore-not-found` did not find are simply absent; the result is always a list.
 */
export async function kubectlGet(args: string[], settings: ClusterSettings, purpose: string): Promise<ClusterObject[]> {
    const flags: string[] = [];
    let temp: string | undefined;
    if (settings.kubeconfig !== undefined) {
        if (fs.existsSync(settings.kubeconfig)) {
            flags.push("--kubeconfig", settings.kubeconfig);
        } else {
            temp = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-kubeconfig-"));
            fs.writeFileSync(path.join(temp, "config"), settings.kubeconfig, { mode: 0o600 });
            flags.push("--kubeconfig", path.join(temp, "config"));
        }
    }
    if (settings.context) flags.push("--context", settings.context);
    if (settings.cluster) flags.push("--cluster", settings.cluster);
    try {
        const out = await new Promise<string>((resolve, reject) =>
            execFile(process.env.KUBECTL ?? "kubectl", [...args, "-o", "json", ...flags], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
                if (!error) return resolve(stdout);
                const why = (error as NodeJS.ErrnoException).code === "ENOENT" ? "kubectl is not on PATH (or set KUBECTL to it)" : stderr.trim() || error.message;
                reject(new pulumi.RunError(`could not ${purpose} (kubectl ${args.join(" ")}): ${why}`));
            }),
        );
        if (!out.trim()) return [];
        const parsed = JSON.parse(out) as ClusterObject & { items?: ClusterObject[] };
        return parsed.items ?? [parsed];
    } finally {
        if (temp) fs.rmSync(temp, { recursive: true, force: true });
    }
}

/** The planned objects that exist, read with kubectl one namespace at a time. */
async function kubectlReader(objects: PlannedObject[]): Promise<ClusterObject[]> {
    const config = new pulumi.Config("kubernetes");
    const settings = { kubeconfig: config.get("kubeconfig"), context: config.get("context"), cluster: config.get("cluster") };
    const byNamespace = new Map<string | undefined, PlannedObject[]>();
    for (const o of objects) byNamespace.set(o.namespace, [...(byNamespace.get(o.namespace) ?? []), o]);
    const found: ClusterObject[] = [];
    for (const [namespace, refs] of byNamespace) {
        const args = ["get", ...refs.map(kubectlResource), "--ignore-not-found", ...(namespace ? ["--namespace", namespace] : [])];
        found.push(...(await kubectlGet(args, settings, "check the cluster for objects this stack would take over")));
    }
    return found;
}

let readCluster: ClusterReader = kubectlReader;

/** Tests read a cluster of their own making instead of calling kubectl. */
export function useClusterReader(reader: ClusterReader | undefined): void {
    readCluster = reader ?? kubectlReader;
}

/**
 * Reads every object of the plan that exists already and refuses, before anything is registered, those someone
 * else holds. Returns the rest, this stack's own: a job's run record among them.
 */
export async function refuseForeignObjects(plan: StackPlan, stack: string): Promise<ClusterObject[]> {
    if (plan.target !== "kubernetes") return [];
    const planned = plannedObjects(plan, new pulumi.Config("kubernetes").get("namespace"));
    if (planned.length === 0) return [];
    const existing = await readCluster(planned);
    const foreign = foreignObjects(planned, existing, stack);
    if (foreign.length > 0) throw new ForeignObjectsError(foreign, stack);
    return existing;
}
