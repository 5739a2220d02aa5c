// The program's composition: one GoApp per configured app, on the stack's target.
import { type ClusterObject, Gateway, GoApp, type GoAppArgs, RegistryLoginError, STACK_ANNOTATION, checkRegistryLogin, currentStackName, jobRunCompleted } from "@dockyard/components";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { PROMOTED, type StackPlan, parseStackConfig, readRawConfig, stackFileSecretLeaves, withEnvironmentDefaults, withPromotedImages } from "./config";
import { GATEWAY_RESOURCE, refuseForeignObjects } from "./ownership";

/** What each app exports. */
export interface AppOutputs {
    /** The image deployed: digest when pushed or given, content tag when local. */
    imageRef: pulumi.Output<string>;
    /** Services: a URL on Docker, `host:port` inside the cluster on Kubernetes. */
    endpoint?: pulumi.Output<string>;
    /** Jobs on Docker: what the job printed. */
    logs?: pulumi.Output<string>;
    /** Services with `metrics`: their URL on Docker (loopback), `host:port/path` inside the cluster on Kubernetes. */
    metricsEndpoint?: pulumi.Output<string>;
    /** Services with a route: the URL a user opens, `https://<host><path>`. */
    url?: pulumi.Output<string>;
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
function createNamespace(name: string, podSecurityVersion: string): k8s.core.v1.Namespace {
    const provider = new k8s.Provider("namespace-provider", namespaceProviderArgs());
    const metadata = { name, labels: podSecurityLabels(podSecurityVersion), annotations: { [STACK_ANNOTATION]: currentStackName() } };
    return new k8s.core.v1.Namespace("namespace", { metadata }, { provider });
}

/**
 * The namespace provider's settings: the same cluster as the default provider's (`kubernetes:kubeconfig`,
 * `context`, `cluster`), without server-side apply.
 */
export function namespaceProviderArgs(): k8s.ProviderArgs {
    const cluster = new pulumi.Config("kubernetes");
    return {
        enableServerSideApply: false,
        // Unset, the SDK would pass KUBECONFIG's value, and the provider copies a kubeconfig it is given into a
        // new $TMPDIR/kubeconfig* on every run, client key included, never deleted. Empty, it reads KUBECONFIG
        // itself, as the default provider does, and writes nothing. A kubeconfig in the stack's config holds
        // credentials: it stays a secret in the provider's inputs and the state, however it was set.
        kubeconfig: cluster.get("kubeconfig") === undefined ? "" : cluster.requireSecret("kubeconfig"),
        context: cluster.get("context"),
        cluster: cluster.get("cluster"),
    };
}

export function compose(plan: StackPlan, sourceCommit?: string): Record<string, AppOutputs> {
    const unresolved = plan.apps.filter((a) => a.args.image?.ref === PROMOTED).map((a) => a.name);
    if (unresolved.length > 0) throw new Error(`compose: apps ${unresolved.join(", ")} still wait for their promoted digests (see withPromotedImages)`);
    const namespace = plan.target === "kubernetes" && plan.createNamespace && plan.namespace ? createNamespace(plan.namespace, plan.podSecurityVersion) : undefined;

    const gateway = plan.gateway && new Gateway(GATEWAY_RESOURCE, { ...plan.gateway, namespace: namespace?.metadata.name ?? plan.namespace });
    const outputs: Record<string, AppOutputs> = {};
    for (const { name, args } of plan.apps) {
        // Taking the name from the Namespace resource orders every app after it.
        const placed = namespace
            ? { ...args, kubernetes: { ...args.kubernetes, namespace: namespace.metadata.name } }
            : args.target === "docker"
              ? { ...args, docker: { ...args.docker, labels: { ...args.docker?.labels, ...dockerAppLabels(name) } } }
              : args;
        const app = new GoApp(name, { ...onGateway(placed, gateway), sourceCommit });
        outputs[name] = {
            imageRef: app.imageRef,
            ...(app.endpoint && { endpoint: app.endpoint }),
            ...(app.logs && { logs: app.logs }),
            ...(app.metricsEndpoint && { metricsEndpoint: app.metricsEndpoint }),
            ...(app.url && { url: app.url }),
        };
    }
    return outputs;
}

/**
 * The app with its route attached to the stack's own Gateway by the Gateway's name as an output: the route
 * waits to be Accepted, so the Gateway must be in place first, certificate and all.
 */
function onGateway(args: GoAppArgs, gateway: Gateway | undefined): GoAppArgs {
    const route = args.kubernetes?.route;
    if (!gateway || !route?.gateway) return args;
    return { ...args, kubernetes: { ...args.kubernetes, route: { ...route, gateway: { ...route.gateway, name: gateway.gateway.metadata.name } } } };
}

/**
 * Which app a Docker container runs, beside the stack and project folder DockerWorkload labels it with
 * (what `dockyard recover` finds a dead update's containers by).
 */
export function dockerAppLabels(app: string): Record<string, string> {
    return { "dockyard.dev/app": app };
}

/**
 * The plan with `runCompleted` set on each job whose run (image, args, env, settings) completed before and
 * whose finished Job Kubernetes has deleted since: it makes no Job, so the job does not run again, and a
 * refreshed preview (drift) shows nothing for it. `existing` is what the cluster holds of the plan's objects.
 */
export function withCompletedRuns(plan: StackPlan, existing: ClusterObject[], stack: string): StackPlan {
    const find = (kind: string, name: string) => existing.find((o) => o.kind === kind && o.metadata.name === name);
    return {
        ...plan,
        apps: plan.apps.map((app) => {
            const run = GoApp.jobRun(app.name, app.args);
            if (!run) return app;
            const objects = GoApp.kubernetesObjects(app.name, app.args);
            const named = (kind: string) => objects.find((o) => o.kind === kind)?.name ?? "";
            if (!jobRunCompleted(run, { job: find("Job", named("Job")), record: find("ConfigMap", named("ConfigMap")) }, stack)) return app;
            void pulumi.log.info(`${app.name}: this run completed before and its Job has been collected since; it does not run again`);
            return { ...app, args: { ...app.args, kubernetes: { ...app.args.kubernetes, runCompleted: true } } };
        }),
    };
}

/** An Input's value, for checks that must finish before any resource is registered. */
function resolved<T>(input: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(input).apply((value) => resolve(value as T)));
}

/** The full name of a stack reference: `<stack>` alone means this project's stack in this organization. */
export function stackName(name: string): string {
    return name.includes("/") ? name : `${pulumi.getOrganization()}/${pulumi.getProject()}/${name}`;
}

/** What the program exports. */
export interface ProgramOutputs {
    /** Per app: `imageRef`, and `endpoint` for services or `logs` for jobs on Docker. */
    apps: Record<string, AppOutputs>;
    /** The commit the deployed images were built from, when known: promotion carries it along. */
    sourceCommit?: string;
}

/** How a tool runs the program, rather than a deploy. */
export interface ProgramOptions {
    /**
     * Take every app's image, and the source commit, from this stack's outputs, as `promoteFrom` does: the
     * drift check names its own stack, so it compares the cluster with what is deployed, never with a new build.
     * Default: `DOCKYARD_IMAGES_FROM`, which `dockyard drift` sets.
     */
    imagesFrom?: string;
}

/**
 * The whole program: this stack's config validated, the registry login checked (a wrong or rotated
 * password fails the preview, before anything is created), promoted digests read from the source
 * stack, the cluster checked for objects of the same names that are not this stack's, then composed.
 * `index.ts` and the Automation API's inline programs run it.
 */
export async function program(env: NodeJS.ProcessEnv = process.env, opts: ProgramOptions = { imagesFrom: env.DOCKYARD_IMAGES_FROM }): Promise<ProgramOutputs> {
    const raw = withEnvironmentDefaults(readRawConfig(), env);
    const stackFile = path.join(process.cwd(), `Pulumi.${pulumi.getStack()}.yaml`);
    const secrets = { secretLeaves: stackFileSecretLeaves(fs.existsSync(stackFile) ? fs.readFileSync(stackFile, "utf8") : undefined) };
    let plan = parseStackConfig(opts.imagesFrom ? { ...raw, promoteFrom: opts.imagesFrom } : raw, new pulumi.Config("dockyard").getSecret("registryPassword"), secrets);
    if (plan.registryLogin) {
        const { server, username, password } = plan.registryLogin;
        try {
            await checkRegistryLogin(server, username, await resolved(password));
        } catch (e) {
            const how = "fix dockyard:registryPassword (pulumi config set --secret), or set dockyard:registry.checkLogin to false to skip the check";
            throw new RegistryLoginError(`dockyard:registryPassword: ${(e as Error).message}; ${how}`);
        }
    }
    // Built here: the commit CI checked out. Promoted: the commit the source stack's images came from.
    let sourceCommit = env.DOCKYARD_SOURCE_COMMIT ?? env.GITHUB_SHA;
    if (plan.promoteFrom) {
        const name = stackName(plan.promoteFrom);
        const source = new pulumi.StackReference("promote-from", { name });
        const [apps, commit] = await Promise.all([source.getOutputValue("apps"), source.getOutputValue("sourceCommit")]);
        plan = withPromotedImages(plan, name, apps);
        sourceCommit = typeof commit === "string" ? commit : undefined;
    }
    // Last before anything is created: what the plan would take over, it refuses, in a preview too. What is
    // this stack's already tells which jobs' runs are done.
    const existing = await refuseForeignObjects(plan, currentStackName());
    return { apps: compose(withCompletedRuns(plan, existing, currentStackName()), sourceCommit), ...(sourceCommit && { sourceCommit }) };
}
