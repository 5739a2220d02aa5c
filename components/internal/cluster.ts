// Reading the cluster a stack deploys to, and telling its own objects from anyone else's: the program's
// ownership check before any resource is registered, and `dockyard recover` after a deploy died.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { KubernetesObjectRef } from "../kubernetesWorkload";
import { STACK_ANNOTATION, namesStack } from "./stack";

/** The parts of an object in the cluster the program reads. */
export interface ClusterObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    /** A ConfigMap's data: a job's run record. */
    data?: Record<string, string>;
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

/** The API's resource name for a kind the components make: networkpolicies, gateways, ingresses, deployments. */
export function pluralOf(kind: string): string {
    const k = kind.toLowerCase();
    return /[^aeiou]y$/.test(k) ? `${k.slice(0, -1)}ies` : k.endsWith("s") ? `${k}es` : `${k}s`;
}

/** The resource argument kubectl takes for an object: `deployments.v1.apps/server`, `services/server`. */
export function kubectlResource(ref: KubernetesObjectRef): string {
    const plural = pluralOf(ref.kind);
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
                reject(new ClusterReadError(`could not ${purpose} (kubectl ${args.join(" ")}): ${why}`));
            }),
        );
        if (!out.trim()) return [];
        const parsed = JSON.parse(out) as ClusterObject & { items?: ClusterObject[] };
        return parsed.items ?? [parsed];
    } finally {
        if (temp) fs.rmSync(temp, { recursive: true, force: true });
    }
}


/** The cluster could not be read: kubectl missing, unreachable or refusing. */
export class ClusterReadError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ClusterReadError";
    }
}
