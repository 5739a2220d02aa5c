// Horizontal autoscaling of a KubernetesWorkload's Deployment.
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { type ArgProblem, checkInteger } from "./internal/problems";

/**
 * A HorizontalPodAutoscaler (`autoscaling/v2`) owns the Deployment's replica count. Plain numbers:
 * `minReplicas` decides whether a PodDisruptionBudget and the spread across nodes exist.
 */
export interface Autoscale {
    /** Fewest replicas, 1 to 1000; 2 or more also brings the PodDisruptionBudget and the spread. Required. */
    minReplicas: number;
    /** Most replicas, from `minReplicas` to 1000. Required. */
    maxReplicas: number;
    /**
     * Target average CPU use across the pods, in percent of their CPU *request* (not the limit), 1 to 1000:
     * with the default request of 50m, 50 means 25m per pod. Required.
     */
    cpuUtilization: number;
}

/** Every problem with `autoscale`, and with the fields that cannot stand beside it. @internal */
export function validateAutoscale(autoscale: Autoscale | undefined, replicas: number | undefined, kind: string | undefined): ArgProblem[] {
    if (autoscale === undefined) return [];
    const problems: ArgProblem[] = [];
    if (typeof autoscale !== "object" || autoscale === null) {
        return [{ field: "autoscale", value: autoscale, allowed: "{ minReplicas, maxReplicas, cpuUtilization }" }];
    }
    if (kind === "job") problems.push({ field: "autoscale", value: autoscale, allowed: "nothing: a job runs one pod to completion" });
    if (replicas !== undefined) {
        problems.push({ field: "replicas", value: replicas, allowed: "unset when autoscale is given: the autoscaler owns the replica count" });
    }
    checkRequired(problems, "autoscale.minReplicas", autoscale.minReplicas, 1, 1000);
    checkRequired(problems, "autoscale.maxReplicas", autoscale.maxReplicas, 1, 1000);
    checkRequired(problems, "autoscale.cpuUtilization", autoscale.cpuUtilization, 1, 1000);
    const { minReplicas: min, maxReplicas: max } = autoscale;
    if (Number.isInteger(min) && Number.isInteger(max) && max < min) {
        problems.push({ field: "autoscale.maxReplicas", value: max, allowed: `at least autoscale.minReplicas (${min})` });
    }
    for (const key of Object.keys(autoscale)) {
        if (!["minReplicas", "maxReplicas", "cpuUtilization"].includes(key)) {
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
                metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: autoscale.cpuUtilization } } }],
            },
        },
        opts,
    );
}
