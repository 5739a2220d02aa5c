// The program's composition: one GoApp per configured app, on the stack's target.
import { GoApp } from "@dockyard/components";
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { type StackPlan } from "./config";

/** What each app exports. */
export interface AppOutputs {
    /** The image deployed: digest when pushed, content tag when local. */
    imageRef: pulumi.Output<string>;
    /** Services: a URL on Docker, `host:port` inside the cluster on Kubernetes. */
    endpoint?: pulumi.Output<string>;
    /** Jobs on Docker: what the job printed. */
    logs?: pulumi.Output<string>;
}

/** Labels that make the API server itself enforce what the components already do. */
const POD_SECURITY_RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
};

export function compose(plan: StackPlan): Record<string, AppOutputs> {
    const namespace =
        plan.target === "kubernetes" && plan.createNamespace && plan.namespace
            ? new k8s.core.v1.Namespace("namespace", { metadata: { name: plan.namespace, labels: POD_SECURITY_RESTRICTED } })
            : undefined;

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
