// Horizontal autoscaling of a KubernetesWorkload's Deployment.
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { type ArgProblem, checkInteger } from "./internal/problems";

/**
 * A HorizontalPodAutoscaler (`autoscaling/v2`) owns the Deployment's replica count, following CPU use, the
 * request rate, or both (it takes whichever asks for more pods). Plain numbers: `minReplicas` decides
 * whether a PodDisruptionBudget and the spread across nodes exist.
 */
export interface Autoscale {
    /** Fewest replicas, 1 to 1000; 2 or more also brings the PodDisruptionBudget and the spread. Required. */
    minReplicas: number;
    /** Most replicas, from `minReplicas` to 1000. Required. */
    maxReplicas: number;
    /**
     * Target average CPU use across the pods, in percent of their CPU *request* (not the limit), 1 to 1000:
     * with the default request of 50m, 50 means 25m per pod. Read from the resource metrics API
     * (metrics-server). Default: none; at least one of `cpuUtilization` and `requestsPerSecond` is required.
     */
    cpuUtilization?: number;
    /**
     * Target requests per second per pod, above 0 (to a thousandth): the autoscaler keeps the pods' average
     * of the pod metric `requestsPerSecondMetric` at this value. Needs `metrics` (the pods must serve the
     * counter the rate is made of) and a custom metrics adapter on the cluster that serves that metric, such
     * as prometheus-adapter with a rule that makes each pod's `http_requests_total` a per-second rate.
     * Default: none.
     */
    requestsPerSecond?: number;
    /**
     * The pod metric, in the custom metrics API (`custom.metrics.k8s.io`), that carries each pod's request
     * rate. Only with `requestsPerSecond`. Default: `"http_requests_per_second"` (prometheus-adapter's usual
     * name for the rate of `http_requests_total`, the counter Dockyard's server exports).
     */
    requestsPerSecondMetric?: string;
}

/** The request-rate metric's name when `requestsPerSecondMetric` is unset. */
const DEFAULT_REQUESTS_PER_SECOND_METRIC = "http_requests_per_second";

const AUTOSCALE_KEYS = ["minReplicas", "maxReplicas", "cpuUtilization", "requestsPerSecond", "requestsPerSecondMetric"];
// The custom metrics API's names are Prometheus metric names in every adapter that serves them.
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Every problem with `autoscale`, and with the fields that cannot stand beside it. @internal */
export function validateAutoscale(autoscale: Autoscale | undefined, replicas: number | undefined, kind: string | undefined, hasMetrics: boolean): ArgProblem[] {
    if (autoscale === undefined) return [];
    const problems: ArgProblem[] = [];
    if (typeof autoscale !== "object" || autoscale === null) {
        return [{ field: "autoscale", value: autoscale, allowed: "{ minReplicas, maxReplicas, cpuUtilization and/or requestsPerSecond }" }];
    }
    if (kind === "job") problems.push({ field: "autoscale", value: autoscale, allowed: "nothing: a job runs one pod to completion" });
    if (replicas !== undefined) {
        problems.push({ field: "replicas", value: replicas, allowed: "unset when autoscale is given: the autoscaler owns the replica count" });
    }
    checkRequired(problems, "autoscale.minReplicas", autoscale.minReplicas, 1, 1000);
    checkRequired(problems, "autoscale.maxReplicas", autoscale.maxReplicas, 1, 1000);
    const { cpuUtilization, requestsPerSecond, requestsPerSecondMetric } = autoscale;
    if (cpuUtilization === undefined && requestsPerSecond === undefined) {
        problems.push({ field: "autoscale.cpuUtilization", value: undefined, allowed: "an integer from 1 to 1000, or autoscale.requestsPerSecond: the autoscaler needs a metric to follow" });
    }
    checkInteger(problems, "autoscale.cpuUtilization", cpuUtilization, 1, 1000);
    if (requestsPerSecond !== undefined) {
        if (typeof requestsPerSecond !== "number" || !Number.isFinite(requestsPerSecond) || Math.round(requestsPerSecond * 1000) < 1 || requestsPerSecond > 1_000_000) {
            problems.push({ field: "autoscale.requestsPerSecond", value: requestsPerSecond, allowed: "a number of requests per second per pod, from 0.001 to 1000000" });
        } else if (!hasMetrics) {
            problems.push({
                field: "autoscale.requestsPerSecond",
                value: requestsPerSecond,
                allowed: "only with `metrics`: the request rate is made of the counter the pods serve there",
            });
        }
    }
    if (requestsPerSecondMetric !== undefined) {
        if (requestsPerSecond === undefined) {
            problems.push({ field: "autoscale.requestsPerSecondMetric", value: requestsPerSecondMetric, allowed: "only with autoscale.requestsPerSecond" });
        } else if (typeof requestsPerSecondMetric !== "string" || !METRIC_NAME.test(requestsPerSecondMetric)) {
            problems.push({ field: "autoscale.requestsPerSecondMetric", value: requestsPerSecondMetric, allowed: "a metric name: letters, digits, '_' and ':', not starting with a digit" });
        }
    }
    const { minReplicas: min, maxReplicas: max } = autoscale;
    if (Number.isInteger(min) && Number.isInteger(max) && max < min) {
        problems.push({ field: "autoscale.maxReplicas", value: max, allowed: `at least autoscale.minReplicas (${min})` });
    }
    for (const key of Object.keys(autoscale)) {
        if (!AUTOSCALE_KEYS.includes(key)) {
            problems.push({ field: `autoscale.${key}`, value: (autoscale as unknown as Record<string, unknown>)[key], allowed: "nothing: not an autoscale setting" });
        }
    }
    return problems;
}

function checkRequired(problems: ArgProblem[], field: string, value: unknown, min: number, max: number): void {
    if (value === undefined) problems.push({ field, value, allowed: `an integer from ${min} to ${max} (required)` });
    else checkInteger(problems, field, value, min, max);
}

/**
 * The autoscaler for `deployment`. The Deployment leaves `replicas` unset, so no later `pulumi up` sets
 * it back: the autoscaler is its only writer. @internal
 */
export function horizontalPodAutoscaler(
    name: string,
    deployment: k8s.apps.v1.Deployment,
    autoscale: Autoscale,
    metadata: k8s.types.input.meta.v1.ObjectMeta,
    opts: pulumi.CustomResourceOptions,
): k8s.autoscaling.v2.HorizontalPodAutoscaler {
    return new k8s.autoscaling.v2.HorizontalPodAutoscaler(
        `${name}-autoscaler`,
        {
            metadata,
            spec: {
                scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name },
                minReplicas: autoscale.minReplicas,
                maxReplicas: autoscale.maxReplicas,
                metrics: [
                    ...(autoscale.cpuUtilization !== undefined
                        ? [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: autoscale.cpuUtilization } } }]
                        : []),
                    ...(autoscale.requestsPerSecond !== undefined
                        ? [
                              {
                                  type: "Pods",
                                  pods: {
                                      metric: { name: autoscale.requestsPerSecondMetric ?? DEFAULT_REQUESTS_PER_SECOND_METRIC },
                                      target: { type: "AverageValue", averageValue: canonicalQuantity(Math.round(autoscale.requestsPerSecond * 1000)) },
                                  },
                              },
                          ]
                        : []),
                ],
            },
        },
        opts,
    );
}

/**
 * A quantity of `milli` thousandths as the API server stores it ("20", "12500m", "1k"): any other spelling
 * would come back from a refresh changed, and show as drift.
 */
function canonicalQuantity(milli: number): string {
    if (milli % 1000 !== 0) return `${milli}m`;
    let value = milli / 1000;
    for (const suffix of ["", "k"]) {
        if (value % 1000 !== 0) return `${value}${suffix}`;
        value /= 1000;
    }
    return `${value}M`;
}
