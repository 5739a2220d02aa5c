// The program's composition: one GoApp per configured app, on the stack's target.
import { GoApp, RegistryLoginError, checkRegistryLogin } from "@dockyard/components";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type StackPlan, parseStackConfig, readRawConfig } from "./config";

/** What each app exports. */
export interface AppOutputs {
    /** The image deployed: digest when pushed or given, content tag when local. */
    imageRef: pulumi.Output<string>;
    /** Services: a URL on Docker, `host:port` inside the cluster on Kubernetes. */
    endpoint?: pulumi.Output<string>;
    /** Jobs on Docker: what the job printed. */
    logs?: pulumi.Output<string>;
}

/** Labels that make the API server itself enforce what the components already do. */
function podSecurityLabels(version: string): Record<string, string> {
    const labels: Record<string, string> = {};
    for (const mode of ["enforce", "warn", "audit"]) {
        labels[`pod-security.kubernetes.io/${mode}`] = "restricted";
        labels[`pod-security.kubernetes.io/${mode}-version`] = version;
    }
    return labels;
}

/**
 * The namespace, created only if it does not exist yet. The provider's default server-side apply turns a
 * create into an upsert, which would adopt someone else's namespace and later delete it with everything
 * in it; a plain create fails with AlreadyExists instead, in a preview's dry run too. Only this object
 * goes through that provider; it reads the same cluster settings as the default one.
 */
function createNamespace(plan: StackPlan & { namespace: string }): k8s.core.v1.Namespace {
    const cluster = new pulumi.Config("kubernetes");
    const provider = new k8s.Provider("namespace-provider", {
        enableServerSideApply: false,
        kubeconfig: cluster.get("kubeconfig"),
        context: cluster.get("context"),
        cluster: cluster.get("cluster"),
    });
    return new k8s.core.v1.Namespace("namespace", { metadata: { name: plan.namespace, labels: podSecurityLabels(plan.podSecurityVersion) } }, { provider });
}

export function compose(plan: StackPlan): Record<string, AppOutputs> {
    const namespace = plan.target === "kubernetes" && plan.createNamespace && plan.namespace ? createNamespace({ ...plan, namespace: plan.namespace }) : undefined;

    const outputs: Record<string, AppOutputs> = {};
    for (const { name, args } of plan.apps) {
        // Taking the name from the Namespace resource orders every app after it.
        const placed = namespace ? { ...args, kubernetes: { ...args.kubernetes, namespace: namespace.metadata.name } } : args;
        const app = new GoApp(name, placed);
        outputs[name] = {
            imageRef: app.imageRef,
            ...(app.endpoint && { endpoint: app.endpoint }),
            ...(app.logs && { logs: app.logs }),
        };
    }
    return outputs;
}

/** An Input's value, for checks that must finish before any resource is registered. */
function resolved<T>(input: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(input).apply((value) => resolve(value as T)));
}

/**
 * The whole program: this stack's config validated, the registry login checked (a wrong or rotated
 * password fails the preview, before anything is created), then composed. `index.ts` and the
 * Automation API's inline programs run it.
 */
export async function program(): Promise<Record<string, AppOutputs>> {
    const plan = parseStackConfig(readRawConfig(), new pulumi.Config("dockyard").getSecret("registryPassword"));
    if (plan.registryLogin) {
        const { server, username, password } = plan.registryLogin;
        try {
            await checkRegistryLogin(server, username, await resolved(password));
        } catch (e) {
            const how = "fix dockyard:registryPassword (pulumi config set --secret), or set dockyard:registry.checkLogin to false to skip the check";
            throw new RegistryLoginError(`dockyard:registryPassword: ${(e as Error).message}; ${how}`);
        }
    }
    return compose(plan);
}
