// Only the way in: the NetworkPolicy that admits traffic to a service's pods from its route's proxy, its
// own namespace and what the caller adds, and from nothing else.
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { isIP } from "node:net";
import { type ArgProblem } from "./internal/problems";
import { DNS_LABEL } from "./internal/names";

/**
 * What may reach the service: pods in a namespace, pods with labels, or both; or, alone, the addresses in a
 * CIDR block, for clients that are not pods (a Prometheus on the nodes' network, a load balancer's checks).
 */
export interface NetworkPeer {
    /** The namespace the pods run in. Default: the service's own namespace. */
    namespace?: string;
    /** Labels the pods carry. Default: any pod in `namespace`. */
    podLabels?: Record<string, string>;
    /** An IPv4 or IPv6 block, host bits zero (`10.0.0.0/24`). Default: none; not with `namespace` or `podLabels`. */
    cidr?: string;
}

/** What the service's NetworkPolicy admits beside its own namespace and its route's proxy. */
export interface NetworkPolicyArgs {
    /** More peers admitted to every port of the pods. Default: `[]`. */
    allowFrom?: NetworkPeer[];
    /** Peers admitted to the metrics port alone: the Prometheus that scrapes it. Default: `[]`. */
    scrapeFrom?: NetworkPeer[];
}

const NAMESPACE_NAME = "kubernetes.io/metadata.name";
const PEER_SHAPE = "{ namespace?, podLabels? } with at least one of them, or { cidr }";

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
            problems.push({ field: `networkPolicy.${field}`, value: peers, allowed: `a list of ${PEER_SHAPE}` });
            continue;
        }
        peers.forEach((peer, i) => problems.push(...validatePeer(peer, `networkPolicy.${field}.${i}`)));
    }
    if (policy.scrapeFrom !== undefined && !hasMetrics) problems.push({ field: "networkPolicy.scrapeFrom", value: policy.scrapeFrom, allowed: "unset without metrics: there is no metrics port" });
    for (const key of Object.keys(policy)) {
        if (key !== "allowFrom" && key !== "scrapeFrom") problems.push({ field: `networkPolicy.${key}`, value: (policy as Record<string, unknown>)[key], allowed: "only allowFrom and scrapeFrom" });
    }
    return problems;
}

function validatePeer(peer: NetworkPeer, at: string): ArgProblem[] {
    if (typeof peer !== "object" || peer === null || (peer.namespace === undefined && peer.podLabels === undefined && peer.cidr === undefined)) {
        return [{ field: at, value: peer, allowed: PEER_SHAPE }];
    }
    const problems: ArgProblem[] = [];
    if (peer.cidr !== undefined) {
        if (peer.namespace !== undefined || peer.podLabels !== undefined) problems.push({ field: at, value: peer, allowed: "a cidr alone: a block of addresses does not combine with namespace or podLabels" });
        if (!isCidr(peer.cidr)) problems.push({ field: `${at}.cidr`, value: peer.cidr, allowed: "an IPv4 or IPv6 CIDR block with its host bits zero, e.g. 10.0.0.0/24" });
    }
    if (peer.namespace !== undefined && (typeof peer.namespace !== "string" || !DNS_LABEL.test(peer.namespace))) {
        problems.push({ field: `${at}.namespace`, value: peer.namespace, allowed: "a namespace (a DNS label)" });
    }
    if (peer.podLabels !== undefined && (typeof peer.podLabels !== "object" || Object.values(peer.podLabels).some((v) => typeof v !== "string"))) {
        problems.push({ field: `${at}.podLabels`, value: peer.podLabels, allowed: "labels as { key: value } strings" });
    }
    for (const key of Object.keys(peer)) {
        if (!["namespace", "podLabels", "cidr"].includes(key)) problems.push({ field: `${at}.${key}`, value: (peer as Record<string, unknown>)[key], allowed: "only namespace, podLabels and cidr" });
    }
    return problems;
}

/** An address block as the API server takes it, and with no host bits set, which would suggest a mistaken address. */
function isCidr(value: unknown): boolean {
    if (typeof value !== "string") return false;
    const [address, prefix, ...rest] = value.split("/");
    const family = isIP(address);
    const width = family === 4 ? 32 : 128;
    if (family === 0 || address.includes("%") || rest.length > 0 || !/^(0|[1-9]\d{0,2})$/.test(prefix ?? "") || Number(prefix) > width) return false;
    const bits = family === 4 ? address.split(".").reduce((n, octet) => (n << 8n) | BigInt(octet), 0n) : ipv6Bits(address);
    const hostMask = (1n << BigInt(width - Number(prefix))) - 1n;
    return (bits & hostMask) === 0n;
}

/** The 128 bits of an IPv6 address that `isIP` accepted; an embedded IPv4 tail is two groups. */
function ipv6Bits(address: string): bigint {
    const groups = (part: string): string[] => {
        if (part === "") return [];
        const words = part.split(":");
        const last = words[words.length - 1];
        if (!last.includes(".")) return words;
        const [a, b, c, d] = last.split(".").map(Number);
        return [...words.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    };
    const [head, tail] = address.split("::");
    const left = groups(head);
    const right = tail === undefined ? [] : groups(tail);
    const all = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
    return all.reduce((n, group) => (n << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** A NetworkPolicy peer for `peer`; pods in the policy's own namespace when it names none. */
function policyPeer(peer: NetworkPeer): k8s.types.input.networking.v1.NetworkPolicyPeer {
    if (peer.cidr !== undefined) return { ipBlock: { cidr: peer.cidr } };
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
