// Only the way in: the NetworkPolicy that admits traffic to a service's pods from its route's proxy, its
// own namespace and what the caller adds, and from nothing else.
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { type ArgProblem } from "./internal/problems";
import { DNS_LABEL } from "./internal/names";

/** Pods that may reach the service: in a namespace, with labels, or both. */
export interface NetworkPeer {
    /** The namespace the pods run in. Default: the service's own namespace. */
    namespace?: string;
    /** Labels the pods carry. Default: any pod in `namespace`. */
    podLabels?: Record<string, string>;
}

/** What the service's NetworkPolicy admits beside its own namespace and its route's proxy. */
export interface NetworkPolicyArgs {
    /** More peers admitted to every port of the pods. Default: `[]`. */
    allowFrom?: NetworkPeer[];
    /** Peers admitted to the metrics port alone: the Prometheus that scrapes it. Default: `[]`. */
    scrapeFrom?: NetworkPeer[];
}

const NAMESPACE_NAME = "kubernetes.io/metadata.name";

/** Every problem with `networkPolicy`. @internal */
export function validateNetworkPolicy(policy: NetworkPolicyArgs | false | undefined, kind: string | undefined, hasMetrics: boolean): ArgProblem[] {
    if (policy === undefined || policy === false) return [];
    if (kind === "job") return [{ field: "networkPolicy", value: policy, allowed: "nothing: a job serves no port, so nothing is let in to it" }];
    if (typeof policy !== "object" || policy === null) return [{ field: "networkPolicy", value: policy, allowed: "{ allowFrom?, scrapeFrom? }, or false for none" }];
    const problems: ArgProblem[] = [];
    for (const field of ["allowFrom", "scrapeFrom"] as const) {
        const peers = policy[field];
        if (peers === undefined) continue;
        if (!Array.isArray(peers)) {
            problems.push({ field: `networkPolicy.${field}`, value: peers, allowed: "a list of { namespace?, podLabels? }" });
            continue;
        }
        peers.forEach((peer, i) => {
            const at = `networkPolicy.${field}.${i}`;
            if (typeof peer !== "object" || peer === null || (peer.namespace === undefined && peer.podLabels === undefined)) {
                problems.push({ field: at, value: peer, allowed: "{ namespace?, podLabels? } with at least one of them" });
                return;
            }
            if (peer.namespace !== undefined && (typeof peer.namespace !== "string" || !DNS_LABEL.test(peer.namespace))) {
                problems.push({ field: `${at}.namespace`, value: peer.namespace, allowed: "a namespace (a DNS label)" });
            }
            if (peer.podLabels !== undefined && (typeof peer.podLabels !== "object" || Object.values(peer.podLabels).some((v) => typeof v !== "string"))) {
                problems.push({ field: `${at}.podLabels`, value: peer.podLabels, allowed: "labels as { key: value } strings" });
            }
            for (const key of Object.keys(peer)) {
                if (key !== "namespace" && key !== "podLabels") problems.push({ field: `${at}.${key}`, value: (peer as Record<string, unknown>)[key], allowed: "only namespace and podLabels" });
            }
        });
    }
    if (policy.scrapeFrom !== undefined && !hasMetrics) problems.push({ field: "networkPolicy.scrapeFrom", value: policy.scrapeFrom, allowed: "unset without metrics: there is no metrics port" });
    for (const key of Object.keys(policy)) {
        if (key !== "allowFrom" && key !== "scrapeFrom") problems.push({ field: `networkPolicy.${key}`, value: (policy as Record<string, unknown>)[key], allowed: "only allowFrom and scrapeFrom" });
    }
    return problems;
}

/** A NetworkPolicy peer for `peer`; pods in the policy's own namespace when it names none. */
function policyPeer(peer: NetworkPeer): k8s.types.input.networking.v1.NetworkPolicyPeer {
    return {
        namespaceSelector: peer.namespace === undefined ? undefined : { matchLabels: { [NAMESPACE_NAME]: peer.namespace } },
        podSelector: peer.podLabels === undefined ? (peer.namespace === undefined ? {} : undefined) : { matchLabels: peer.podLabels },
    };
}

/**
 * The service's NetworkPolicy: ingress to its pods only from its own namespace and `allowFrom` (every port),
 * `proxy` (its route's Gateway or ingress controller, the app's port) and `scrapeFrom` (the metrics port).
 * Egress is not restricted. @internal
 */
export function networkPolicy(
    name: string,
    selectorLabels: Record<string, string>,
    policy: NetworkPolicyArgs,
    proxy: NetworkPeer | undefined,
    metricsPort: number | undefined,
    metadata: k8s.types.input.meta.v1.ObjectMeta,
    opts: pulumi.CustomResourceOptions,
): k8s.networking.v1.NetworkPolicy {
    const ingress: k8s.types.input.networking.v1.NetworkPolicyIngressRule[] = [
        { from: [{ podSelector: {} }, ...(policy.allowFrom ?? []).map(policyPeer)] },
        ...(proxy ? [{ from: [policyPeer(proxy)], ports: [{ port: "http", protocol: "TCP" }] }] : []),
        ...(metricsPort !== undefined && policy.scrapeFrom?.length ? [{ from: policy.scrapeFrom.map(policyPeer), ports: [{ port: "metrics", protocol: "TCP" }] }] : []),
    ];
    return new k8s.networking.v1.NetworkPolicy(
        `${name}-network-policy`,
        { metadata, spec: { podSelector: { matchLabels: selectorLabels }, policyTypes: ["Ingress"], ingress } },
        opts,
    );
}
