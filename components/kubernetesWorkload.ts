import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import { type Autoscale, horizontalPodAutoscaler, validateAutoscale } from "./autoscaling";
import { type NetworkPolicyArgs, networkPolicy, validateNetworkPolicy } from "./networkPolicy";
import { type RouteArgs, routeProxy, routeResources, routeUrl, validateRoute } from "./route";
import { floatingImageProblem } from "./internal/imageRef";
import { STACK_ANNOTATION, namesStack } from "./internal/stack";
import { type ArgProblem, checkInteger, checkOneOf, known, throwIfAny } from "./internal/problems";
import { dockerConfigJson } from "./internal/registryLogin";
import { envVar, notReadyHook, podSpec, secretValues } from "./podSpec";
import { DEFAULT_METRICS_PATH, type RegistryCredentials, type ResourceQuantities, type WorkloadArgs, WORKLOAD_KINDS, provenance, validateEnv, validateMetrics, validateQuantities } from "./types";
import { DNS_LABEL, DNS_SUBDOMAIN } from "./internal/names";

export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer";
export const SERVICE_TYPES: readonly ServiceType[] = ["ClusterIP", "NodePort", "LoadBalancer"];

/** A service becomes a Deployment plus a Service; a job, a batch/v1 Job. */
export interface KubernetesWorkloadArgs extends WorkloadArgs {
    /** The app's name: the container name and `app.kubernetes.io/name`. Default: the component's name. */
    appName?: string;
    /** Port the Service exposes. Default: `port`. */
    servicePort?: number;
    /** Service type; `LoadBalancer` and `NodePort` expose the app outside the cluster. Default: `"ClusterIP"`. */
    serviceType?: ServiceType;
    /**
     * Pod replicas of a service; 0 scales it to nothing. A plain number, because it decides whether a
     * PodDisruptionBudget exists. Not with `autoscale`. Default: `1`.
     */
    replicas?: number;
    /**
     * Scale the service with its CPU use, its request rate, or both: a HorizontalPodAutoscaler between
     * `minReplicas` and `maxReplicas`. The Deployment then leaves `replicas` unset, so a later `pulumi up` or
     * `preview` shows no diff and never scales it back; the cluster needs the metrics pipeline each target
     * reads (metrics-server for CPU, a custom metrics adapter for requests). Not with `replicas`. Default:
     * none, a fixed `replicas`.
     */
    autoscale?: Autoscale;
    /**
     * Seconds a pod stays bound to a node that stopped answering (not ready, or unreachable) before it is
     * evicted and replaced on another node: the `tolerationSeconds` of the `node.kubernetes.io/not-ready` and
     * `unreachable` tolerations. Requests already stop reaching it once the node is marked not ready; this is
     * how long the service runs short of a replica after that. Default: `30` (Kubernetes' own is 300).
     */
    nodeLossTolerationSeconds?: number;
    /** Namespace for every object. Default: the provider's namespace. */
    namespace?: pulumi.Input<string>;
    /**
     * Name of the Deployment, Service, Job, ServiceAccount and PodDisruptionBudget. Stable, so the
     * Service's DNS name survives a replacement; a replaced object is deleted first. Default: `appName`.
     */
    objectName?: string;
    /**
     * Registry credentials the pods pull with: a `kubernetes.io/dockerconfigjson` Secret is made from them
     * (a Pulumi secret throughout) and named in the pod spec. A changed password makes a new Secret, so the
     * pods roll onto it. Default: none.
     */
    registryCredentials?: RegistryCredentials;
    /** Existing pull Secrets to name in the pod spec, beside the one made from `registryCredentials`. Default: `[]`. */
    imagePullSecrets?: string[];
    /** An existing ServiceAccount to run as. Default: one of the app's own (named `objectName`), never `default`. */
    serviceAccountName?: string;
    /**
     * Seconds `pulumi up` waits for the Deployment to be ready, or the Job to complete, before failing with
     * what the pods report (an image pull error, a crash loop). A service's pods get as long to start
     * listening: their startup probe (the liveness check, every 2 s) holds readiness and liveness back until
     * then, so a slow starter becomes Ready instead of being restarted. Default: `300`.
     */
    readyTimeoutSeconds?: number;
    /**
     * A PodDisruptionBudget for the service's pods: `maxUnavailable` as a count or percentage, or `false` for
     * none. Default: `{ maxUnavailable: 1 }` when `replicas` (or `autoscale.minReplicas`) is 2 or more, none otherwise.
     */
    podDisruptionBudget?: { maxUnavailable: number | string } | false;
    /**
     * Spread the service's replicas across nodes (topology spread on `kubernetes.io/hostname`, `ScheduleAnyway`,
     * per rollout revision, cordoned nodes left out). Default: `true` when `replicas` (or `autoscale.minReplicas`) is 2 or more.
     */
    spreadAcrossNodes?: boolean;
    /** Resource requests. Default: `{ cpu: "50m", memory: "32Mi" }`. */
    requests?: ResourceQuantities;
    /** Resource limits. Default: `{ cpu: "500m", memory: "128Mi" }`. */
    limits?: ResourceQuantities;
    /**
     * HTTP path of the readiness probe: a pod gets traffic while it answers 2xx or 3xx there. Default: none,
     * a TCP check on `port`, which any app that listens passes; give the path when the app serves one.
     */
    readinessPath?: string;
    /**
     * HTTP path of the liveness probe: the container is restarted when it stops answering there. Default:
     * none, a TCP check on `port`.
     */
    livenessPath?: string;
    /**
     * Seconds a terminating pod keeps serving before SIGTERM, so endpoints drop it first (a `preStop`
     * sleep; Kubernetes 1.30+). Default: `5`.
     */
    preStopSleepSeconds?: number;
    /** Seconds the app may take to finish in-flight requests after SIGTERM; passed as `SHUTDOWN_TIMEOUT`. Default: `10`. */
    shutdownTimeoutSeconds?: number;
    /** Job retries before it is marked failed. Default: `2`. */
    backoffLimit?: number;
    /**
     * Seconds a finished Job is kept before Kubernetes deletes it. Collected or not, a job runs once per change
     * of what it runs: its run record (a ConfigMap `<objectName>-run`) says which run completed, and a program
     * that passes `runCompleted` makes no Job for that run again. Default: none, the finished Job (and its
     * pod's log) stays until the next change of what it runs replaces it.
     */
    ttlSecondsAfterFinished?: number;
    /**
     * Jobs: a plain name for what `image` was built from, when `image` itself is only known at deploy time (a
     * build's digest): GoApp passes `<repository>:<content tag>`. Recorded in the run record, so that a
     * program can tell before deploying whether this run already completed. Default: none.
     */
    imageSource?: string;
    /**
     * Jobs: this run (see `jobRun`) completed before, and its finished Job is gone since (its TTL, or someone
     * deleted it): make no Job, so it does not run again; the run record stays. `jobRunCompleted` decides it
     * from what the cluster holds. Default: `false`, the Job is made (a no-op while it exists unchanged).
     */
    runCompleted?: boolean;
    /**
     * Seconds a Job may run in all, after which Kubernetes fails it. Default: `readyTimeoutSeconds`, which
     * bounds `pulumi up` for a job too: the provider's own Job wait restarts its timer on every pod event,
     * so a pod cycling through image pull back-offs would otherwise hold `up` far past the timeout.
     */
    activeDeadlineSeconds?: number;
    /** UID and GID the pod runs as; must not be 0. Default: `65532`. */
    runAsUser?: number;
    /** Mount the root filesystem read-only. Default: `true`. */
    readOnlyRootFilesystem?: boolean;
    /** Extra labels on every object; the selector labels cannot be overridden. Default: `{}`. */
    labels?: Record<string, string>;
    /**
     * Annotations on every object and the pod template. Every object also gets `dockyard.dev/stack`, naming the
     * stack that made it, and `pulumi.com/patchForce: "true"`, so `up` takes back a field changed by hand;
     * neither can be overridden here. Default: `{}`.
     */
    annotations?: Record<string, string>;
    /**
     * A way in from outside the cluster to `port`: an HTTPRoute attached to a Gateway, or an Ingress with a
     * cert-manager Certificate. `up` waits, within `readyTimeoutSeconds`, for the route to be Accepted (or the
     * Ingress to get an address) and the Certificate to be Ready, and otherwise names which is not and what
     * its status says. The cluster needs the Gateway API CRDs and a controller (or an ingress controller),
     * and cert-manager for TLS. Services only. Default: none, reachable inside the cluster alone.
     */
    route?: RouteArgs;
    /**
     * A NetworkPolicy that admits traffic to the service's pods only from its own namespace, its route's
     * Gateway or ingress controller (to `port`), and the peers given here; egress stays open. `false` makes
     * none: anything in the cluster may reach the pods. It is enforced only where the cluster's network plugin
     * enforces NetworkPolicies. Services only. Default: `{}`, a policy with no extra peers.
     */
    networkPolicy?: NetworkPolicyArgs | false;
    /** Kubernetes provider for every object. Default: the one from `opts`, else the ambient default provider. */
    provider?: k8s.Provider;
}

export const KUBERNETES_DEFAULTS = {
    port: 8080,
    replicas: 1,
    serviceType: "ClusterIP" as ServiceType,
    requests: { cpu: "50m", memory: "32Mi" },
    limits: { cpu: "500m", memory: "128Mi" },
    preStopSleepSeconds: 5,
    shutdownTimeoutSeconds: 10,
    backoffLimit: 2,
    runAsUser: 65532,
    readyTimeoutSeconds: 300,
    maxUnavailable: 1,
    nodeLossTolerationSeconds: 30,
} as const;

const SELECTOR_KEYS = ["app.kubernetes.io/name", "app.kubernetes.io/instance"];

/** Every problem with KubernetesWorkload arguments, by field. */
export function validateKubernetesWorkloadArgs(args: KubernetesWorkloadArgs): ArgProblem[] {
    const problems: ArgProblem[] = [];
    const floating = floatingImageProblem("image", args.image);
    if (floating) problems.push(floating);
    checkOneOf(problems, "kind", args.kind, WORKLOAD_KINDS);
    checkOneOf(problems, "serviceType", args.serviceType, SERVICE_TYPES);
    checkInteger(problems, "port", args.port, 1, 65535);
    checkInteger(problems, "servicePort", args.servicePort, 1, 65535);
    checkInteger(problems, "replicas", args.replicas, 0, 1000);
    checkInteger(problems, "readyTimeoutSeconds", args.readyTimeoutSeconds, 1, 86_400);
    checkInteger(problems, "preStopSleepSeconds", args.preStopSleepSeconds, 0, 300);
    checkInteger(problems, "shutdownTimeoutSeconds", args.shutdownTimeoutSeconds, 1, 3600);
    checkInteger(problems, "backoffLimit", args.backoffLimit, 0, 100);
    checkInteger(problems, "ttlSecondsAfterFinished", args.ttlSecondsAfterFinished, 0, 31_536_000);
    checkInteger(problems, "activeDeadlineSeconds", args.activeDeadlineSeconds, 1, 31_536_000);
    checkInteger(problems, "runAsUser", args.runAsUser, 1, 2_147_483_647);
    checkInteger(problems, "nodeLossTolerationSeconds", args.nodeLossTolerationSeconds, 0, 86_400);
    problems.push(...validateAutoscale(args.autoscale, args.replicas, args.kind, args.metrics !== undefined));
    for (const field of ["appName", "objectName"] as const) {
        const value = args[field];
        if (value !== undefined && (!DNS_LABEL.test(value) || value.length > 63)) {
            problems.push({ field, value, allowed: "a DNS label: lowercase letters, digits and '-', at most 63 characters" });
        }
    }
    if (known(args.namespace) && args.namespace !== undefined && !DNS_LABEL.test(args.namespace)) {
        problems.push({ field: "namespace", value: args.namespace, allowed: "a DNS label: lowercase letters, digits and '-'" });
    }
    for (const [i, secret] of (args.imagePullSecrets ?? []).entries()) {
        if (typeof secret !== "string" || !DNS_SUBDOMAIN.test(secret)) {
            problems.push({ field: `imagePullSecrets.${i}`, value: secret, allowed: "the name of a Secret in the namespace (a DNS subdomain)" });
        }
    }
    if (args.serviceAccountName !== undefined && !DNS_SUBDOMAIN.test(args.serviceAccountName)) {
        problems.push({ field: "serviceAccountName", value: args.serviceAccountName, allowed: "the name of a ServiceAccount in the namespace (a DNS subdomain)" });
    }
    const budget = args.podDisruptionBudget;
    if (budget !== undefined && budget !== false) {
        const m = budget?.maxUnavailable;
        const ok = (typeof m === "number" && Number.isInteger(m) && m >= 0) || (typeof m === "string" && /^(100|[1-9]?[0-9])%$/.test(m));
        if (!ok) problems.push({ field: "podDisruptionBudget.maxUnavailable", value: m, allowed: 'a count (0 or more) or a percentage such as "25%"' });
    }
    if (args.kind === "job") {
        for (const field of [
            "port", "servicePort", "serviceType", "replicas", "readinessPath", "livenessPath", "preStopSleepSeconds", "podDisruptionBudget", "spreadAcrossNodes",
        ] as const) {
            if (args[field] !== undefined) problems.push({ field, value: args[field], allowed: "nothing: a job serves no port and runs one pod to completion" });
        }
    } else {
        for (const field of ["backoffLimit", "ttlSecondsAfterFinished", "activeDeadlineSeconds", "imageSource", "runCompleted"] as const) {
            if (args[field] !== undefined) problems.push({ field, value: args[field], allowed: "nothing: only a job takes it" });
        }
    }
    for (const field of ["readinessPath", "livenessPath"] as const) {
        const value = args[field];
        if (value !== undefined && !value.startsWith("/")) problems.push({ field, value, allowed: "an absolute HTTP path starting with /" });
    }
    for (const reserved of ["PORT", "SHUTDOWN_TIMEOUT"]) {
        if (args.env && reserved in args.env) problems.push({ field: `env.${reserved}`, value: args.env[reserved], allowed: "unset: it is derived from the workload's own args" });
    }
    for (const key of SELECTOR_KEYS) {
        if (args.labels && key in args.labels) problems.push({ field: `labels.${key}`, value: args.labels[key], allowed: "unset: selector labels come from appName and the component name" });
    }
    problems.push(...validateEnv(args.env), ...validateQuantities("requests", args.requests), ...validateQuantities("limits", args.limits));
    problems.push(...validateMetrics(args, args.port ?? KUBERNETES_DEFAULTS.port, "kubernetes"));
    problems.push(...validateRoute(args.route, args.kind), ...validateNetworkPolicy(args.networkPolicy, args.kind, args.metrics !== undefined));
    return problems;
}

export { STACK_ANNOTATION, namesStack };

/**
 * The stack being deployed, as `STACK_ANNOTATION` carries it: `<project>/<stack>`. No organization and no
 * backend: a stack moved from one backend or organization to another keeps owning what it made.
 */
export function currentStackName(): string {
    return `${pulumi.getProject()}/${pulumi.getStack()}`;
}

/** An object a workload makes under a fixed name: the name another object in its namespace could already hold. */
export interface KubernetesObjectRef {
    /** As in the object: `v1`, `apps/v1`, … */
    apiVersion: string;
    kind: string;
    name: string;
    /** The component that makes it: its `app.kubernetes.io/instance` label. */
    instance: string;
}

/** The ConfigMap that records a job's last completed run. */
function runRecordName(objectName: string): string {
    return `${objectName}-run`;
}

/** One run of a job, as its run record keeps it: what it ran, by the parts a program knows before deploying. */
export interface JobRun {
    /** A hash of everything but the image: args, plain env values, resources and the job's settings. */
    spec: string;
    /** The image, where it is a plain string (a digest given or promoted). */
    image?: string;
    /** What the image was built from (`imageSource`), where it is built in the same deploy. */
    source?: string;
}

/**
 * The run `new KubernetesWorkload(name, args)` would make of a job: an Output env value (a secret) counts by
 * its name only, as it is not known before deploying; change something else, or let the Job stay, to rerun on it.
 */
export function jobRun(args: KubernetesWorkloadArgs): JobRun {
    const d = KUBERNETES_DEFAULTS;
    const plain = (v: unknown) => (typeof v === "string" ? v : "(known at deploy time)");
    const settings = {
        args: args.args?.map(plain),
        env: Object.entries(args.env ?? {}).map(([k, v]) => [k, plain(v)]),
        requests: { ...d.requests, ...args.requests },
        limits: { ...d.limits, ...args.limits },
        backoffLimit: args.backoffLimit ?? d.backoffLimit,
        activeDeadlineSeconds: args.activeDeadlineSeconds ?? args.readyTimeoutSeconds ?? d.readyTimeoutSeconds,
        runAsUser: args.runAsUser ?? d.runAsUser,
        readOnlyRootFilesystem: args.readOnlyRootFilesystem ?? true,
        serviceAccountName: args.serviceAccountName,
        shutdownTimeoutSeconds: args.shutdownTimeoutSeconds ?? d.shutdownTimeoutSeconds,
    };
    return {
        spec: crypto.createHash("sha256").update(JSON.stringify(settings)).digest("hex").slice(0, 20),
        ...(typeof args.image === "string" && { image: args.image }),
        ...(args.imageSource !== undefined && { source: args.imageSource }),
    };
}

/** The parts of an object in the cluster that `jobRunCompleted` reads. */
export interface RunRecordObject {
    metadata: { annotations?: Record<string, string> };
    data?: Record<string, string>;
}

/**
 * Whether this run of a job completed before and its Job is gone since: the Job is absent, and this stack's run
 * record names the same spec and the same image (by digest, or by what it was built from). A Job that still
 * exists is left to Pulumi as usual: false.
 */
export function jobRunCompleted(run: JobRun, found: { job?: object; record?: RunRecordObject }, stack: string): boolean {
    const record = found.record;
    if (found.job !== undefined || record === undefined || !namesStack(record.metadata.annotations?.[STACK_ANNOTATION], stack)) return false;
    const data = record.data ?? {};
    const sameImage = (run.image !== undefined && data.image === run.image) || (run.source !== undefined && data.source === run.source);
    return data.spec === run.spec && sameImage;
}

/** The Job fields whose change replaces the Job, so that it runs again. @internal */
export const JOB_RERUN_FIELDS = ["spec.template", "spec.backoffLimit", "spec.activeDeadlineSeconds"];

/** The PodDisruptionBudget a service gets, if any. */
function disruptionBudget(args: Omit<KubernetesWorkloadArgs, "image">): { maxUnavailable: number | string } | false {
    const minReplicas = args.autoscale?.minReplicas ?? args.replicas ?? KUBERNETES_DEFAULTS.replicas;
    return args.podDisruptionBudget ?? (minReplicas >= 2 ? { maxUnavailable: KUBERNETES_DEFAULTS.maxUnavailable } : false);
}

/**
 * The objects `new KubernetesWorkload(name, args)` makes under fixed names, all in its namespace. Its Secrets
 * are left out: their names are generated, so they never meet an existing object.
 */
export function kubernetesWorkloadObjects(name: string, args: Omit<KubernetesWorkloadArgs, "image">): KubernetesObjectRef[] {
    const objectName = args.objectName ?? args.appName ?? name;
    const ref = (apiVersion: string, kind: string) => ({ apiVersion, kind, name: objectName, instance: name });
    const serviceAccount = args.serviceAccountName === undefined ? [ref("v1", "ServiceAccount")] : [];
    if (args.kind === "job") return [...serviceAccount, ref("batch/v1", "Job"), { ...ref("v1", "ConfigMap"), name: runRecordName(objectName) }];
    return [
        ...serviceAccount,
        ref("apps/v1", "Deployment"),
        ref("v1", "Service"),
        ...(args.autoscale ? [ref("autoscaling/v2", "HorizontalPodAutoscaler")] : []),
        ...(disruptionBudget(args) ? [ref("policy/v1", "PodDisruptionBudget")] : []),
        ...(args.metrics?.scrape === "serviceMonitor" ? [ref("monitoring.coreos.com/v1", "ServiceMonitor")] : []),
        ...(args.networkPolicy === false ? [] : [ref("networking.k8s.io/v1", "NetworkPolicy")]),
        ...(args.route?.gateway ? [ref("gateway.networking.k8s.io/v1", "HTTPRoute")] : []),
        ...(args.route?.ingress ? [ref("networking.k8s.io/v1", "Ingress")] : []),
        ...(args.route?.ingress && args.route.tls !== false ? [ref("cert-manager.io/v1", "Certificate")] : []),
    ];
}

/**
 * Runs an image on Kubernetes: a Deployment plus Service for a service, a Job for a run-to-completion
 * app. Pods meet the Pod Security Standards `restricted` profile with a read-only root filesystem and
 * no service-account token, under a ServiceAccount of their own; rollouts never drop below the desired
 * replicas; a terminating pod is taken out of endpoints before it gets SIGTERM; `pulumi up` fails within
 * `readyTimeoutSeconds` when pods cannot become ready, with what they report.
 */
export class KubernetesWorkload extends pulumi.ComponentResource {
    /** Labels shared by the Deployment selector, the pod template, the Service and the PodDisruptionBudget. */
    public readonly selectorLabels: Record<string, string>;
    /** Services: the Deployment. */
    public readonly deployment?: k8s.apps.v1.Deployment;
    /** Services: the Service. */
    public readonly service?: k8s.core.v1.Service;
    /** Services with `autoscale`: the HorizontalPodAutoscaler. */
    public readonly autoscaler?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
    /** Services with 2 or more replicas (unless turned off): the PodDisruptionBudget. */
    public readonly podDisruptionBudget?: k8s.policy.v1.PodDisruptionBudget;
    /** Jobs: the Job; none when `runCompleted`. */
    public readonly job?: k8s.batch.v1.Job;
    /** Jobs: the run record, which says what the last completed run ran. */
    public readonly runRecord?: k8s.core.v1.ConfigMap;
    /** The app's own ServiceAccount, unless `serviceAccountName` names an existing one. */
    public readonly serviceAccount?: k8s.core.v1.ServiceAccount;
    /** The pull Secret made from `registryCredentials`. */
    public readonly pullSecret?: k8s.core.v1.Secret;
    /** The Secret holding the env values that are Pulumi secrets, when any env value is an Output. */
    public readonly envSecret?: k8s.core.v1.Secret;
    /** Services: the in-cluster address, `<service>.<namespace>.svc.cluster.local:<port>`. */
    public readonly address?: pulumi.Output<string>;
    /** Services with `metrics`: where the Service serves them, `<service>.<namespace>.svc.cluster.local:<port><path>`. */
    public readonly metricsAddress?: pulumi.Output<string>;
    /** Services with `metrics.scrape: "serviceMonitor"`: the ServiceMonitor. */
    public readonly serviceMonitor?: k8s.apiextensions.CustomResource;
    /** Jobs: the Job's name. */
    public readonly jobName?: pulumi.Output<string>;
    /** Services unless `networkPolicy: false`: the NetworkPolicy. */
    public readonly networkPolicy?: k8s.networking.v1.NetworkPolicy;
    /** Services with `route.gateway`: the HTTPRoute. */
    public readonly httpRoute?: k8s.apiextensions.CustomResource;
    /** Services with `route.ingress`: the Ingress. */
    public readonly ingress?: k8s.networking.v1.Ingress;
    /** Services with `route.ingress` and TLS: the cert-manager Certificate. */
    public readonly certificate?: k8s.apiextensions.CustomResource;
    /** Services with `route`: what a user opens, `https://<first host><path>` (`http` with `tls: false`). */
    public readonly url?: pulumi.Output<string>;

    constructor(name: string, args: KubernetesWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        throwIfAny(`KubernetesWorkload "${name}"`, validateKubernetesWorkloadArgs(args));
        super("dockyard:kubernetes:KubernetesWorkload", name, {}, opts);

        const d = KUBERNETES_DEFAULTS;
        const isJob = args.kind === "job";
        const appName = args.appName ?? name;
        const objectName = args.objectName ?? appName;
        const port = args.port ?? d.port;
        const replicas = args.replicas ?? d.replicas;
        // What the workload runs with at the least: it decides the disruption budget and the spread.
        const minReplicas = args.autoscale?.minReplicas ?? replicas;
        const preStop = args.preStopSleepSeconds ?? d.preStopSleepSeconds;
        const shutdownTimeout = args.shutdownTimeoutSeconds ?? d.shutdownTimeoutSeconds;
        const readyTimeout = `${args.readyTimeoutSeconds ?? d.readyTimeoutSeconds}s`;

        this.selectorLabels = { "app.kubernetes.io/name": appName, "app.kubernetes.io/instance": name };
        const labels = {
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/part-of": "dockyard",
            "app.kubernetes.io/component": isJob ? "job" : "service",
            ...args.labels,
            ...this.selectorLabels,
        };
        // patchForce: on a field someone changed by hand (`kubectl scale`, `kubectl set env`), server-side apply
        // would stop with a field conflict, in a preview too; the program is the source of truth for the fields it
        // sets, so `up` takes them back. Fields it does not set stay with whoever set them.
        const annotations = { ...args.annotations, [STACK_ANNOTATION]: currentStackName(), "pulumi.com/patchForce": "true" };
        const metadata = { name: objectName, namespace: args.namespace, labels, annotations };
        // Secrets are auto-named (no `name`): a changed value makes a new one, and the new name rolls the pods.
        const generatedMetadata = { namespace: args.namespace, labels, annotations };
        // A fixed name cannot be held by two objects at once: a replacement deletes the old one first.
        const childOpts: pulumi.CustomResourceOptions = { parent: this, provider: args.provider, deleteBeforeReplace: true };
        const secretOpts: pulumi.CustomResourceOptions = { parent: this, provider: args.provider, replaceOnChanges: ["data", "stringData"] };

        if (args.serviceAccountName === undefined) {
            this.serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-service-account`, { metadata, automountServiceAccountToken: false }, childOpts);
        }
        if (args.registryCredentials) {
            const creds = args.registryCredentials;
            this.pullSecret = new k8s.core.v1.Secret(
                `${name}-pull-secret`,
                {
                    metadata: generatedMetadata,
                    type: "kubernetes.io/dockerconfigjson",
                    stringData: { ".dockerconfigjson": pulumi.secret(dockerConfigJson(creds.server, creds.username, creds.password)) },
                },
                secretOpts,
            );
        }
        // Whether an Output is secret is only known once it resolves, so the env Secret exists whenever some
        // value is an Output (it may then hold no keys); a plain string is never secret.
        const outputEnv = Object.entries(args.env ?? {}).filter((e): e is [string, pulumi.Output<string> | Promise<string>] => typeof e[1] !== "string");
        if (outputEnv.length > 0) {
            this.envSecret = new k8s.core.v1.Secret(
                `${name}-env`,
                { metadata: generatedMetadata, type: "Opaque", stringData: secretValues(outputEnv) },
                secretOpts,
            );
        }
        const envSecretName = this.envSecret?.metadata.name;
        const env = [
            ...(isJob ? [] : [{ name: "PORT", value: String(port) }]),
            ...(args.metrics ? [{ name: "METRICS_PORT", value: String(args.metrics.port) }] : []),
            { name: "SHUTDOWN_TIMEOUT", value: `${shutdownTimeout}s` },
            ...Object.entries(args.env ?? {}).map(([key, value]) => envVar(key, value, envSecretName)),
        ];

        const pullSecrets = [...(args.imagePullSecrets ?? []).map((n) => ({ name: n })), ...(this.pullSecret ? [{ name: this.pullSecret.metadata.name }] : [])];
        const spread = !isJob && (args.spreadAcrossNodes ?? minReplicas >= 2);
        const spec = podSpec({
            appName,
            image: args.image,
            isJob,
            port,
            metricsPort: args.metrics?.port,
            args: args.args,
            env,
            requests: { ...d.requests, ...args.requests },
            limits: { ...d.limits, ...args.limits },
            readOnlyRootFilesystem: args.readOnlyRootFilesystem ?? true,
            readinessPath: args.readinessPath,
            livenessPath: args.livenessPath,
            preStopSleepSeconds: preStop,
            startupSeconds: args.readyTimeoutSeconds ?? d.readyTimeoutSeconds,
            shutdownTimeoutSeconds: shutdownTimeout,
            runAsUser: args.runAsUser ?? d.runAsUser,
            serviceAccountName: this.serviceAccount?.metadata.name ?? args.serviceAccountName,
            imagePullSecrets: pullSecrets,
            spreadLabels: spread ? this.selectorLabels : undefined,
            nodeLossTolerationSeconds: args.nodeLossTolerationSeconds ?? d.nodeLossTolerationSeconds,
        });
        const metrics = args.metrics;
        const metricsPath = metrics?.path ?? DEFAULT_METRICS_PATH;
        // The convention a Prometheus with Kubernetes pod discovery reads (its own config keeps or drops by it).
        const scrapeAnnotations: Record<string, string> | undefined =
            metrics && (metrics.scrape ?? "annotations") === "annotations"
                ? { "prometheus.io/scrape": "true", "prometheus.io/port": String(metrics.port), "prometheus.io/path": metricsPath }
                : undefined;
        const podAnnotations = scrapeAnnotations ? { ...args.annotations, ...scrapeAnnotations } : args.annotations;
        const template = { metadata: { labels: this.selectorLabels, annotations: podAnnotations }, spec };
        // What runs and where it came from, on the workload object itself: `kubectl get deploy -o yaml` tells.
        const workloadMetadata = { ...metadata, annotations: { ...annotations, ...provenance(args.image, args.sourceCommit) } };
        // The provider otherwise waits 10 minutes for a workload that can never become ready.
        const awaitOpts: pulumi.CustomResourceOptions = { ...childOpts, customTimeouts: { create: readyTimeout, update: readyTimeout } };

        if (isJob) {
            if (!args.runCompleted) {
                this.job = new k8s.batch.v1.Job(
                    `${name}-job`,
                    {
                        metadata: workloadMetadata,
                        spec: {
                            backoffLimit: args.backoffLimit ?? d.backoffLimit,
                            ttlSecondsAfterFinished: args.ttlSecondsAfterFinished,
                            activeDeadlineSeconds: args.activeDeadlineSeconds ?? args.readyTimeoutSeconds ?? d.readyTimeoutSeconds,
                            template,
                        },
                    },
                    // A Job's pod template is immutable: a change to it, or to the settings a run counts by (jobRun), means
                    // a new Job that runs again, the old one gone first. Its TTL only says how long to keep it: changed in place.
                    { ...awaitOpts, replaceOnChanges: JOB_RERUN_FIELDS },
                );
            }
            // Written once the Job completed (the provider waits for it): what ran last, for a later deploy to
            // tell that this run is done even after Kubernetes collected the Job.
            const run = jobRun(args);
            this.runRecord = new k8s.core.v1.ConfigMap(
                `${name}-run`,
                { metadata: { ...metadata, name: runRecordName(objectName) }, data: { spec: run.spec, image: args.image, source: args.imageSource ?? "" } },
                { ...childOpts, dependsOn: this.job ? [this.job] : [] },
            );
            this.jobName = this.job?.metadata.name ?? pulumi.output(objectName);
        } else {
            this.deployment = new k8s.apps.v1.Deployment(
                `${name}-deployment`,
                {
                    metadata: workloadMetadata,
                    spec: {
                        // Unset under an autoscaler: whatever this program last applied would otherwise undo its scaling.
                        replicas: args.autoscale ? undefined : replicas,
                        revisionHistoryLimit: 5,
                        selector: { matchLabels: this.selectorLabels },
                        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                        template,
                    },
                },
                {
                    ...awaitOpts,
                    hooks: notReadyHook(this, name, appName, port, args),
                    // Handing the count to an autoscaler must not drop it: under server-side apply, a field its only manager
                    // stops applying is reset to its default, 1 replica, until the autoscaler scales back. Ignored, the last
                    // applied count is applied again while this program still manages the field (a no-op), and left out
                    // once the autoscaler has taken it over by scaling; a fixed `replicas` again takes it back.
                    ...(args.autoscale && { ignoreChanges: ["spec.replicas"] }),
                },
            );
            const servicePort = args.servicePort ?? port;
            this.service = new k8s.core.v1.Service(
                `${name}-service`,
                {
                    metadata,
                    spec: {
                        type: args.serviceType ?? d.serviceType,
                        selector: this.selectorLabels,
                        ports: [
                            { name: "http", port: servicePort, targetPort: "http", protocol: "TCP" },
                            ...(metrics ? [{ name: "metrics", port: metrics.port, targetPort: "metrics", protocol: "TCP" }] : []),
                        ],
                    },
                },
                childOpts,
            );
            if (args.autoscale) this.autoscaler = horizontalPodAutoscaler(name, this.deployment, args.autoscale, metadata, childOpts);
            const budget = disruptionBudget(args);
            if (budget) {
                this.podDisruptionBudget = new k8s.policy.v1.PodDisruptionBudget(
                    `${name}-pdb`,
                    { metadata, spec: { maxUnavailable: budget.maxUnavailable, selector: { matchLabels: this.selectorLabels } } },
                    childOpts,
                );
            }
            if (metrics?.scrape === "serviceMonitor") {
                this.serviceMonitor = new k8s.apiextensions.CustomResource(
                    `${name}-servicemonitor`,
                    {
                        apiVersion: "monitoring.coreos.com/v1",
                        kind: "ServiceMonitor",
                        metadata,
                        spec: { selector: { matchLabels: this.selectorLabels }, endpoints: [{ port: "metrics", path: metricsPath }] },
                    },
                    { ...childOpts, dependsOn: [this.service] },
                );
            }
            if (args.networkPolicy !== false) {
                this.networkPolicy = networkPolicy(name, this.selectorLabels, args.networkPolicy ?? {}, routeProxy(args.route), metrics?.port, metadata, childOpts);
            }
            if (args.route) {
                const made = routeResources(this, name, args.route, this.service, servicePort, objectName, metadata, awaitOpts);
                this.httpRoute = made.httpRoute;
                this.ingress = made.ingress;
                this.certificate = made.certificate;
                this.url = pulumi.output(routeUrl(args.route));
            }
            const namespace = this.service.metadata.namespace.apply((ns) => ns ?? "default");
            this.address = pulumi.interpolate`${this.service.metadata.name}.${namespace}.svc.cluster.local:${servicePort}`;
            if (metrics) this.metricsAddress = pulumi.interpolate`${this.service.metadata.name}.${namespace}.svc.cluster.local:${metrics.port}${metricsPath}`;
        }
        this.registerOutputs({ address: this.address, jobName: this.jobName, metricsAddress: this.metricsAddress, url: this.url });
    }
}
