// The pod a KubernetesWorkload runs: container, hardening, probes, spread and node-loss tolerations.
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { explainFailure } from "./internal/errorHook";

/** Everything the pod is made from, defaults already applied. @internal */
export interface PodSettings {
    appName: string;
    image: pulumi.Input<string>;
    /** A job's pod serves no port, has no probes and is never restarted in place. */
    isJob: boolean;
    port: number;
    /** The port metrics are served on, named `metrics`; none when unset. */
    metricsPort?: number;
    args?: pulumi.Input<string>[];
    env: pulumi.Input<k8s.types.input.core.v1.EnvVar>[];
    requests: Record<string, string>;
    limits: Record<string, string>;
    readOnlyRootFilesystem: boolean;
    /** HTTP probe paths; a TCP check on the port when unset. */
    readinessPath?: string;
    livenessPath?: string;
    preStopSleepSeconds: number;
    /** How long the app may take to start listening: the startup probe's bound, before liveness takes over. */
    startupSeconds: number;
    shutdownTimeoutSeconds: number;
    runAsUser: number;
    serviceAccountName?: pulumi.Input<string>;
    imagePullSecrets: { name: pulumi.Input<string> }[];
    /** Spread the pods carrying these labels across nodes; none when unset. */
    spreadLabels?: Record<string, string>;
    nodeLossTolerationSeconds: number;
}

/** Seconds between startup checks: short, since readiness waits for the first success. */
const STARTUP_PERIOD = 2;

/** The node conditions whose taints evict a pod from a node that stopped answering. */
const NODE_LOSS_TAINTS = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] as const;

/** The pod spec: PSS `restricted`, no service-account token, drained before SIGTERM. @internal */
export function podSpec(s: PodSettings): k8s.types.input.core.v1.PodSpec {
    const container: k8s.types.input.core.v1.Container = {
        name: s.appName,
        image: s.image,
        imagePullPolicy: "IfNotPresent",
        args: s.args,
        env: s.env,
        resources: { requests: s.requests, limits: s.limits },
        securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: s.readOnlyRootFilesystem,
            runAsNonRoot: true,
            capabilities: { drop: ["ALL"] },
        },
        ...(s.isJob
            ? {}
            : {
                  ports: [
                      { name: "http", containerPort: s.port, protocol: "TCP" },
                      ...(s.metricsPort === undefined ? [] : [{ name: "metrics", containerPort: s.metricsPort, protocol: "TCP" }]),
                  ],
                  // Readiness and liveness start once this passes: a slow starter is waited for, not restarted in a loop.
                  startupProbe: { ...probeCheck(s.livenessPath), periodSeconds: STARTUP_PERIOD, timeoutSeconds: 2, failureThreshold: Math.max(1, Math.ceil(s.startupSeconds / STARTUP_PERIOD)) },
                  readinessProbe: { ...probeCheck(s.readinessPath), periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
                  livenessProbe: { ...probeCheck(s.livenessPath), periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                  lifecycle: s.preStopSleepSeconds > 0 ? { preStop: { sleep: { seconds: s.preStopSleepSeconds } } } : undefined,
              }),
    };
    return {
        serviceAccountName: s.serviceAccountName,
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        imagePullSecrets: s.imagePullSecrets.length > 0 ? s.imagePullSecrets : undefined,
        securityContext: { runAsNonRoot: true, runAsUser: s.runAsUser, runAsGroup: s.runAsUser, seccompProfile: { type: "RuntimeDefault" } },
        // SIGTERM arrives after the preStop sleep; leave the app its shutdown timeout plus a margin.
        terminationGracePeriodSeconds: s.preStopSleepSeconds + s.shutdownTimeoutSeconds + 5,
        restartPolicy: s.isJob ? "Never" : "Always",
        // Without these, admission adds both at 300 s: pods would stay bound to a dead node for five minutes.
        tolerations: NODE_LOSS_TAINTS.map((key) => ({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: s.nodeLossTolerationSeconds })),
        topologySpreadConstraints: s.spreadLabels
            ? [
                  {
                      maxSkew: 1,
                      topologyKey: "kubernetes.io/hostname",
                      whenUnsatisfiable: "ScheduleAnyway",
                      labelSelector: { matchLabels: s.spreadLabels },
                      // Spread each rollout's pods on their own, not counted against the old ones.
                      matchLabelKeys: ["pod-template-hash"],
                      // A cordoned or draining node is not a place to spread to.
                      nodeTaintsPolicy: "Honor",
                  },
              ]
            : undefined,
        containers: [container],
    };
}

/** An HTTP GET on the path, or a TCP connect that any app listening on its port passes. */
function probeCheck(path: string | undefined): Pick<k8s.types.input.core.v1.Probe, "httpGet" | "tcpSocket"> {
    return path === undefined ? { tcpSocket: { port: "http" } } : { httpGet: { path, port: "http" } };
}

/** How each probe checks, in words, with the arg that changes it. */
function describeProbes(port: number, paths: { readinessPath?: string; livenessPath?: string }): string {
    const one = (probe: string, field: "readinessPath" | "livenessPath") => {
        const path = paths[field];
        return path === undefined
            ? `the ${probe} probe connects to port ${port} over TCP (port sets the port)`
            : `the ${probe} probe is HTTP GET ${path} on port ${port}, which must answer 2xx or 3xx (${field} sets the path; unset, it is a TCP check)`;
    };
    return `${one("readiness", "readinessPath")}; ${one("liveness", "livenessPath")}; the startup probe makes the liveness check and holds both back for up to readyTimeoutSeconds`;
}

/**
 * Names the probes and the args that set them when a Deployment's pods never became Ready: the provider's
 * own error names only the container. Returns nothing where the SDK or the CLI has no error hooks. @internal
 */
export function notReadyHook(
    workload: pulumi.Resource,
    name: string,
    appName: string,
    port: number,
    paths: { readinessPath?: string; livenessPath?: string },
): pulumi.ResourceHookBinding | undefined {
    return explainFailure(workload, `${name}-not-ready`, async ({ errors }) => notReadyMessage(errors[0] ?? "", appName, port, paths));
}

/** What to say when a Deployment's update failed; nothing when its pods were not what failed. @internal */
export function notReadyMessage(error: string, appName: string, port: number, paths: { readinessPath?: string; livenessPath?: string }): string | undefined {
    if (!/unready status|to be Ready|Minimum number of live Pods|CrashLoopBackOff/i.test(error)) return undefined;
    return (
        `${appName}: its pods did not become Ready: ${describeProbes(port, paths)}. ` +
        `\`kubectl describe pod\` lists each probe failure under Events ("Startup probe failed", "Readiness probe failed", "Liveness probe failed").`
    );
}

/** The env values that turn out to be Pulumi secrets, by name: the env Secret's data, itself secret. @internal */
export function secretValues(env: [string, pulumi.Input<string>][]): pulumi.Output<Record<string, string>> {
    const outputs = env.map(([key, value]) => [key, pulumi.output(value)] as const);
    return pulumi.output(Promise.all(outputs.map(([, v]) => pulumi.isSecret(v)))).apply((flags) =>
        pulumi.secret(pulumi.all(Object.fromEntries(outputs.filter((_, i) => flags[i])))),
    );
}

/** One env entry: a secret value by `secretKeyRef` into the env Secret, anything else as its plain value. @internal */
export function envVar(key: string, value: pulumi.Input<string>, secretName: pulumi.Output<string> | undefined): pulumi.Input<k8s.types.input.core.v1.EnvVar> {
    if (typeof value === "string" || secretName === undefined) return { name: key, value };
    const out = pulumi.output(value);
    return pulumi.output(pulumi.isSecret(out)).apply((secret) =>
        secret ? pulumi.output({ name: key, valueFrom: { secretKeyRef: { name: secretName, key } } }) : out.apply((plain) => ({ name: key, value: plain })),
    );
}
