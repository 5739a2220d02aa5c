// Types shared by the workload components.
import type * as pulumi from "@pulumi/pulumi";
import { parseQuantity } from "./internal/quantity";
import { type ArgProblem } from "./internal/problems";

/** `service`: long-running, serves a port, checked for health. `job`: runs once to completion. */
export type WorkloadKind = "service" | "job";

export const WORKLOAD_KINDS: readonly WorkloadKind[] = ["service", "job"];

/** What every workload takes, on any target. */
export interface WorkloadArgs {
    /** Image to run, by digest (`repo@sha256:…`) or content tag; never `latest` or untagged. Required. */
    image: pulumi.Input<string>;
    /** `service` keeps running and serves `port`; `job` runs once to completion and must succeed. Default: `"service"`. */
    kind?: WorkloadKind;
    /** Port the service listens on; also passed to it as `PORT`. Services only. Default: `8080`. */
    port?: number;
    /** Environment variables. `PORT` (and on Kubernetes `SHUTDOWN_TIMEOUT`) are derived and may not be set here. Default: `{}`. */
    env?: Record<string, pulumi.Input<string>>;
    /** Arguments after the image's entrypoint. Default: none. */
    args?: pulumi.Input<string>[];
    /**
     * The commit the image was built from, recorded with the image reference on the workload
     * (`dockyard.dev/source-commit` and `dockyard.dev/image`: annotations of the Deployment or Job on
     * Kubernetes, not of its pods, so a new commit alone rolls nothing; labels of the container on Docker,
     * where a changed label replaces the container). Default: none, only the image is recorded.
     */
    sourceCommit?: string;
    /**
     * Prometheus metrics the service serves on a port of its own (so a public route to `port` never exposes
     * them); passed to it as `METRICS_PORT`. On Docker the port is published on `hostIp` and its URL is an
     * output; on Kubernetes it is a named container and Service port (`metrics`), scraped as `scrape` says.
     * Services only. Default: none, no metrics port.
     */
    metrics?: MetricsArgs;
}

/** Where a service serves its Prometheus metrics, and how a Prometheus finds them. */
export interface MetricsArgs {
    /** The port the app serves metrics on (`METRICS_PORT`); not the service's own `port`. Required. */
    port: number;
    /** The HTTP path of the metrics. Default: `"/metrics"`. */
    path?: string;
    /**
     * Kubernetes only: how a Prometheus finds the pods. `"annotations"`: the conventional `prometheus.io/scrape`,
     * `/port` and `/path` pod annotations, read by a Prometheus with Kubernetes pod discovery.
     * `"serviceMonitor"`: a `monitoring.coreos.com/v1` ServiceMonitor, for a cluster with the Prometheus Operator
     * (its CRD must be installed). Default: `"annotations"`.
     */
    scrape?: MetricsScrape;
}

export type MetricsScrape = "annotations" | "serviceMonitor";
export const METRICS_SCRAPES: readonly MetricsScrape[] = ["annotations", "serviceMonitor"];
export const DEFAULT_METRICS_PATH = "/metrics";

/** Every problem with `metrics`, given the workload's kind and port. @internal */
export function validateMetrics(args: Pick<WorkloadArgs, "metrics" | "kind" | "port" | "env">, appPort: number, target: "docker" | "kubernetes"): ArgProblem[] {
    const m = args.metrics;
    if (m === undefined) return [];
    if (args.kind === "job") return [{ field: "metrics", value: m, allowed: "nothing: a job serves no port" }];
    const problems: ArgProblem[] = [];
    if (typeof m.port !== "number" || !Number.isInteger(m.port) || m.port < 1 || m.port > 65535) {
        problems.push({ field: "metrics.port", value: m.port, allowed: "an integer from 1 to 65535" });
    } else if (m.port === appPort) {
        problems.push({ field: "metrics.port", value: m.port, allowed: `a port of its own, not the service's port (${appPort})` });
    }
    if (m.path !== undefined && (typeof m.path !== "string" || !m.path.startsWith("/"))) {
        problems.push({ field: "metrics.path", value: m.path, allowed: "an absolute HTTP path starting with /" });
    }
    if (m.scrape !== undefined) {
        if (target === "docker") problems.push({ field: "metrics.scrape", value: m.scrape, allowed: "unset on Docker: the metrics URL is an output, scraped by name" });
        else if (!METRICS_SCRAPES.includes(m.scrape)) problems.push({ field: "metrics.scrape", value: m.scrape, allowed: `one of ${METRICS_SCRAPES.map((s) => `"${s}"`).join(", ")}` });
    }
    for (const key of Object.keys(m)) {
        if (!["port", "path", "scrape"].includes(key)) problems.push({ field: `metrics.${key}`, value: (m as unknown as Record<string, unknown>)[key], allowed: "only port, path and scrape" });
    }
    if (args.env && "METRICS_PORT" in args.env) problems.push({ field: "env.METRICS_PORT", value: args.env.METRICS_PORT, allowed: "unset: it is taken from metrics.port" });
    return problems;
}

/** The provenance annotations (Kubernetes) or labels (Docker) a workload carries. @internal */
export function provenance(image: pulumi.Input<string>, sourceCommit: string | undefined): Record<string, pulumi.Input<string>> {
    return { "dockyard.dev/image": image, ...(sourceCommit !== undefined && { "dockyard.dev/source-commit": sourceCommit }) };
}

/** A login to an image registry, for pushing images or for pods to pull them. */
export interface RegistryCredentials {
    /** Registry host (and port), e.g. `ghcr.io` or `localhost:5000`. Required. */
    server: string;
    /** User to log in as. Required. */
    username: pulumi.Input<string>;
    /** Password or token; always handled as a Pulumi secret. Required. */
    password: pulumi.Input<string>;
}

/** CPU and memory as Kubernetes quantities, e.g. `{ cpu: "250m", memory: "64Mi" }`. */
export interface ResourceQuantities {
    /** CPU in cores or millicores: `"0.5"`, `"500m"`. */
    cpu?: string;
    /** Memory in bytes with an optional suffix: `"128Mi"`, `"1G"`. */
    memory?: string;
}

/** @internal */
export function validateQuantities(field: string, q: ResourceQuantities | undefined): ArgProblem[] {
    const problems: ArgProblem[] = [];
    for (const key of ["cpu", "memory"] as const) {
        const value = q?.[key];
        if (value === undefined) continue;
        const parsed = typeof value === "string" ? parseQuantity(value) : undefined;
        if (parsed === undefined || parsed <= 0) {
            problems.push({
                field: `${field}.${key}`,
                value,
                allowed: key === "cpu" ? 'a positive CPU quantity such as "500m" or "0.5"' : 'a positive memory quantity such as "128Mi" or "1Gi"',
            });
        }
    }
    for (const key of Object.keys(q ?? {})) {
        if (key !== "cpu" && key !== "memory") problems.push({ field: `${field}.${key}`, value: (q as Record<string, unknown>)[key], allowed: "only cpu and memory" });
    }
    return problems;
}

/** @internal */
export function validateEnv(env: Record<string, unknown> | undefined): ArgProblem[] {
    return Object.keys(env ?? {})
        .filter((name) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        .map((name) => ({ field: `env.${name}`, value: name, allowed: "a variable name of letters, digits and underscores, not starting with a digit" }));
}
