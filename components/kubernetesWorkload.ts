import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { floatingImageProblem } from "./internal/imageRef";
import { type ArgProblem, checkInteger, checkOneOf, known, throwIfAny } from "./internal/problems";
import { type ResourceQuantities, type WorkloadArgs, WORKLOAD_KINDS, validateEnv, validateQuantities } from "./types";

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
    /** Pod replicas of a service; 0 scales it to nothing. Default: `1`. */
    replicas?: pulumi.Input<number>;
    /** Namespace for every object. Default: the provider's namespace. */
    namespace?: pulumi.Input<string>;
    /** Fixed object names. Default: the component's name plus a random suffix; fixed names mean delete-before-replace. */
    objectName?: string;
    /** Resource requests. Default: `{ cpu: "50m", memory: "32Mi" }`. */
    requests?: ResourceQuantities;
    /** Resource limits. Default: `{ cpu: "500m", memory: "128Mi" }`. */
    limits?: ResourceQuantities;
    /** HTTP path of the readiness probe. Default: `"/readyz"`. */
    readinessPath?: string;
    /** HTTP path of the liveness probe. Default: `"/healthz"`. */
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
     * Seconds a finished Job is kept before Kubernetes deletes it. Once it is gone, a `pulumi refresh`
     * drops it from state and the next `up` runs it again; raise this (or set it very high) if that is
     * unwanted. Default: `3600`.
     */
    ttlSecondsAfterFinished?: number;
    /** Seconds a Job may run in all. Default: `600`. */
    activeDeadlineSeconds?: number;
    /** UID and GID the pod runs as; must not be 0. Default: `65532`. */
    runAsUser?: number;
    /** Mount the root filesystem read-only. Default: `true`. */
    readOnlyRootFilesystem?: boolean;
    /** Extra labels on every object; the selector labels cannot be overridden. Default: `{}`. */
    labels?: Record<string, string>;
    /** Annotations on every object and the pod template. Default: `{}`. */
    annotations?: Record<string, string>;
    /** Kubernetes provider for every object. Default: the one from `opts`, else the ambient default provider. */
    provider?: k8s.Provider;
}

export const KUBERNETES_DEFAULTS = {
    port: 8080,
    replicas: 1,
    serviceType: "ClusterIP" as ServiceType,
    requests: { cpu: "50m", memory: "32Mi" },
    limits: { cpu: "500m", memory: "128Mi" },
    readinessPath: "/readyz",
    livenessPath: "/healthz",
    preStopSleepSeconds: 5,
    shutdownTimeoutSeconds: 10,
    backoffLimit: 2,
    ttlSecondsAfterFinished: 3600,
    activeDeadlineSeconds: 600,
    runAsUser: 65532,
} as const;

const SELECTOR_KEYS = ["app.kubernetes.io/name", "app.kubernetes.io/instance"];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Every problem with KubernetesWorkload arguments, by field. */
export function validateKubernetesWorkloadArgs(args: KubernetesWorkloadArgs): ArgProblem[] {
    const problems: ArgProblem[] = [];
    const floating = floatingImageProblem("image", args.image);
    if (floating) problems.push(floating);
    checkOneOf(problems, "kind", args.kind, WORKLOAD_KINDS);
    checkOneOf(problems, "serviceType", args.serviceType, SERVICE_TYPES);
    checkInteger(problems, "port", args.port, 1, 65535);
    checkInteger(problems, "servicePort", args.servicePort, 1, 65535);
    checkInteger(problems, "replicas", known(args.replicas) ? args.replicas : undefined, 0, 1000);
    checkInteger(problems, "preStopSleepSeconds", args.preStopSleepSeconds, 0, 300);
    checkInteger(problems, "shutdownTimeoutSeconds", args.shutdownTimeoutSeconds, 1, 3600);
    checkInteger(problems, "backoffLimit", args.backoffLimit, 0, 100);
    checkInteger(problems, "ttlSecondsAfterFinished", args.ttlSecondsAfterFinished, 0, 31_536_000);
    checkInteger(problems, "activeDeadlineSeconds", args.activeDeadlineSeconds, 1, 31_536_000);
    checkInteger(problems, "runAsUser", args.runAsUser, 1, 2_147_483_647);
    for (const field of ["appName", "objectName"] as const) {
        const value = args[field];
        if (value !== undefined && (!DNS_LABEL.test(value) || value.length > 63)) {
            problems.push({ field, value, allowed: "a DNS label: lowercase letters, digits and '-', at most 63 characters" });
        }
    }
    if (known(args.namespace) && args.namespace !== undefined && !DNS_LABEL.test(args.namespace)) {
        problems.push({ field: "namespace", value: args.namespace, allowed: "a DNS label: lowercase letters, digits and '-'" });
    }
    if (args.kind === "job") {
        for (const field of ["port", "servicePort", "serviceType", "replicas", "readinessPath", "livenessPath", "preStopSleepSeconds"] as const) {
            if (args[field] !== undefined) problems.push({ field, value: args[field], allowed: "nothing: a job serves no port and runs one pod to completion" });
        }
    } else {
        for (const field of ["backoffLimit", "ttlSecondsAfterFinished", "activeDeadlineSeconds"] as const) {
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
    return problems;
}

/**
 * Runs an image on Kubernetes: a Deployment plus Service for a service, a Job for a run-to-completion
 * app. Pods meet the Pod Security Standards `restricted` profile with a read-only root filesystem and
 * no service-account token; rollouts never drop below the desired replicas; a terminating pod is
 * taken out of endpoints before it gets SIGTERM.
 */
export class KubernetesWorkload extends pulumi.ComponentResource {
    /** Labels shared by the Deployment selector, the pod template and the Service selector. */
    public readonly selectorLabels: Record<string, string>;
    /** Services: the Deployment. */
    public readonly deployment?: k8s.apps.v1.Deployment;
    /** Services: the Service. */
    public readonly service?: k8s.core.v1.Service;
    /** Jobs: the Job. */
    public readonly job?: k8s.batch.v1.Job;
    /** Services: the in-cluster address, `<service>.<namespace>.svc.cluster.local:<port>`. */
    public readonly address?: pulumi.Output<string>;
    /** Jobs: the Job's name. */
    public readonly jobName?: pulumi.Output<string>;

    constructor(name: string, args: KubernetesWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        throwIfAny(`KubernetesWorkload "${name}"`, validateKubernetesWorkloadArgs(args));
        super("dockyard:kubernetes:KubernetesWorkload", name, {}, opts);

        const d = KUBERNETES_DEFAULTS;
        const isJob = args.kind === "job";
        const appName = args.appName ?? name;
        const port = args.port ?? d.port;
        const preStop = args.preStopSleepSeconds ?? d.preStopSleepSeconds;
        const shutdownTimeout = args.shutdownTimeoutSeconds ?? d.shutdownTimeoutSeconds;
        const uid = args.runAsUser ?? d.runAsUser;

        this.selectorLabels = { "app.kubernetes.io/name": appName, "app.kubernetes.io/instance": name };
        const metadata = {
            name: args.objectName,
            namespace: args.namespace,
            labels: {
                "app.kubernetes.io/managed-by": "pulumi",
                "app.kubernetes.io/part-of": "dockyard",
                "app.kubernetes.io/component": isJob ? "job" : "service",
                ...args.labels,
                ...this.selectorLabels,
            },
            annotations: args.annotations,
        };
        const childOpts: pulumi.CustomResourceOptions = {
            parent: this,
            provider: args.provider,
            deleteBeforeReplace: args.objectName !== undefined,
        };

        const env = [
            ...(isJob ? [] : [{ name: "PORT", value: String(port) }]),
            { name: "SHUTDOWN_TIMEOUT", value: `${shutdownTimeout}s` },
            ...Object.entries(args.env ?? {}).map(([envName, value]) => ({ name: envName, value })),
        ];
        const container: k8s.types.input.core.v1.Container = {
            name: appName,
            image: args.image,
            imagePullPolicy: "IfNotPresent",
            args: args.args,
            env,
            resources: {
                requests: { ...d.requests, ...args.requests },
                limits: { ...d.limits, ...args.limits },
            },
            securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: args.readOnlyRootFilesystem ?? true,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
            },
            ...(isJob
                ? {}
                : {
                      ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
                      readinessProbe: {
                          httpGet: { path: args.readinessPath ?? d.readinessPath, port: "http" },
                          periodSeconds: 5,
                          timeoutSeconds: 2,
                          failureThreshold: 2,
                      },
                      livenessProbe: {
                          httpGet: { path: args.livenessPath ?? d.livenessPath, port: "http" },
                          periodSeconds: 10,
                          timeoutSeconds: 2,
                          failureThreshold: 3,
                      },
                      lifecycle: preStop > 0 ? { preStop: { sleep: { seconds: preStop } } } : undefined,
                  }),
        };
        const podSpec: k8s.types.input.core.v1.PodSpec = {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: {
                runAsNonRoot: true,
                runAsUser: uid,
                runAsGroup: uid,
                seccompProfile: { type: "RuntimeDefault" },
            },
            // SIGTERM arrives after the preStop sleep; leave the app its shutdown timeout plus a margin.
            terminationGracePeriodSeconds: preStop + shutdownTimeout + 5,
            restartPolicy: isJob ? "Never" : "Always",
            containers: [container],
        };
        const template = { metadata: { labels: this.selectorLabels, annotations: args.annotations }, spec: podSpec };

        if (isJob) {
            this.job = new k8s.batch.v1.Job(
                `${name}-job`,
                {
                    metadata,
                    spec: {
                        backoffLimit: args.backoffLimit ?? d.backoffLimit,
                        ttlSecondsAfterFinished: args.ttlSecondsAfterFinished ?? d.ttlSecondsAfterFinished,
                        activeDeadlineSeconds: args.activeDeadlineSeconds ?? d.activeDeadlineSeconds,
                        template,
                    },
                },
                // A Job's pod template is immutable: any change to it means a new Job, the old one gone first.
                { ...childOpts, deleteBeforeReplace: true, replaceOnChanges: ["spec"] },
            );
            this.jobName = this.job.metadata.name;
        } else {
            this.deployment = new k8s.apps.v1.Deployment(
                `${name}-deployment`,
                {
                    metadata,
                    spec: {
                        replicas: args.replicas ?? d.replicas,
                        revisionHistoryLimit: 5,
                        selector: { matchLabels: this.selectorLabels },
                        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                        template,
                    },
                },
                childOpts,
            );
            const servicePort = args.servicePort ?? port;
            this.service = new k8s.core.v1.Service(
                `${name}-service`,
                {
                    metadata,
                    spec: {
                        type: args.serviceType ?? d.serviceType,
                        selector: this.selectorLabels,
                        ports: [{ name: "http", port: servicePort, targetPort: "http", protocol: "TCP" }],
                    },
                },
                childOpts,
            );
            const namespace = this.service.metadata.namespace.apply((ns) => ns ?? "default");
            this.address = pulumi.interpolate`${this.service.metadata.name}.${namespace}.svc.cluster.local:${servicePort}`;
        }
        this.registerOutputs({ address: this.address, jobName: this.jobName });
    }
}
