// Never adopt what isn't ours. The Kubernetes provider creates objects with server-side apply, which
// turns a create into an upsert: an object someone else made under the same name would silently become
// this stack's, and `destroy` would delete it. So before anything is registered, in previews too, the
// program reads every object it is about to create under a fixed name and refuses those another owner holds.
import { type ClusterObject, GoApp, type KubernetesObjectRef, STACK_ANNOTATION, gatewayObjects, kubectlGet, kubectlResource, notOurs } from "@dockyard/components";
import * as pulumi from "@pulumi/pulumi";
import type { StackPlan } from "./config";

/** An object the program would create, and where. */
export interface PlannedObject extends KubernetesObjectRef {
    /** Undefined: the provider's default namespace (`kubernetes:namespace`, else the kubeconfig context's). */
    namespace?: string;
}

/** A planned object that another owner's object already holds. */
export interface ForeignObject {
    planned: PlannedObject;
    /** Why it is not this stack's. */
    reason: string;
}

/** The objects a plan creates under fixed names, each with its namespace. */
export function plannedObjects(plan: StackPlan, defaultNamespace?: string): PlannedObject[] {
    const refs = [...(plan.gateway ? gatewayObjects(GATEWAY_RESOURCE, plan.gateway) : []), ...plan.apps.flatMap(({ name, args }) => GoApp.kubernetesObjects(name, args))];
    return refs.map((ref) => ({ ...ref, namespace: plan.namespace ?? defaultNamespace }));
}

/** The Pulumi name of the stack's own Gateway component. */
export const GATEWAY_RESOURCE = "gateway";

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

/** The planned objects that exist, read with kubectl one namespace at a time. */
async function kubectlReader(objects: PlannedObject[]): Promise<ClusterObject[]> {
    const config = new pulumi.Config("kubernetes");
    const settings = { kubeconfig: config.get("kubeconfig"), context: config.get("context"), cluster: config.get("cluster") };
    const byNamespace = new Map<string | undefined, PlannedObject[]>();
    for (const o of objects) byNamespace.set(o.namespace, [...(byNamespace.get(o.namespace) ?? []), o]);
    const found: ClusterObject[] = [];
    for (const [namespace, refs] of byNamespace) {
        const args = ["get", ...refs.map(kubectlResource), "--ignore-not-found", ...(namespace ? ["--namespace", namespace] : [])];
        try {
            found.push(...(await kubectlGet(args, settings, "check the cluster for objects this stack would take over")));
        } catch (e) {
            // A RunError: the CLI prints the message alone, without a stack trace.
            throw new pulumi.RunError((e as Error).message);
        }
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
