// The way in to a KubernetesWorkload's Service from outside the cluster: a Gateway API HTTPRoute, or an
// Ingress where the cluster has no Gateway API, with its certificate from cert-manager.
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { type ClusterObject, kubectlGet } from "./internal/cluster";
import { type Condition, said } from "./internal/conditions";
import { explainFailure } from "./internal/errorHook";
import { type ArgProblem, known } from "./internal/problems";
import { DNS_LABEL, DNS_SUBDOMAIN } from "./internal/names";

/** A Gateway (`gateway.networking.k8s.io/v1`) a route attaches to. */
export interface GatewayRef {
    /** The Gateway's name. Required. */
    name: pulumi.Input<string>;
    /**
     * Its namespace; its listener must admit routes from the app's namespace, and the NetworkPolicy admits
     * the pods there (the Gateway's proxy). Default: the app's namespace.
     */
    namespace?: string;
    /**
     * The listener to attach to. Unset, the route attaches to every listener whose hostname matches, plain
     * HTTP ones included. Default: none; `Gateway`'s `ref` names its `https` listener.
     */
    sectionName?: string;
}

/** An Ingress (`networking.k8s.io/v1`): the rendering for clusters without the Gateway API. */
export interface IngressRef {
    /** The IngressClass of the cluster's ingress controller. Default: the cluster's default class. */
    className?: string;
    /** The namespace the ingress controller's pods run in, which the NetworkPolicy admits. Required. */
    controllerNamespace: string;
}

/** A cert-manager issuer (`cert-manager.io/v1`). */
export interface IssuerRef {
    /** The issuer's name. Required. */
    name: string;
    /** `ClusterIssuer` (cluster-wide) or `Issuer` (in the certificate's namespace). Default: `"ClusterIssuer"`. */
    kind?: IssuerKind;
}
export type IssuerKind = "ClusterIssuer" | "Issuer";
export const ISSUER_KINDS: readonly IssuerKind[] = ["ClusterIssuer", "Issuer"];

/** How a route's traffic is encrypted. */
export interface RouteTls {
    /**
     * Ingress: the issuer of the certificate for `hosts`, a cert-manager `Certificate` in the app's namespace
     * whose Secret the Ingress names. Required there. Gateway: not allowed, since the Gateway's listener
     * terminates TLS with the Gateway's certificate (`Gateway` makes one from its own `issuer`).
     */
    issuer?: IssuerRef;
}

/**
 * A way in from outside the cluster to the service's `port`: one of `gateway` (an HTTPRoute) or `ingress`
 * (an Ingress). Services only.
 */
export interface RouteArgs {
    /**
     * The host names users reach the service at, DNS names in lowercase; a `*.` wildcard is allowed after
     * the first, which is the host of `url`. Required, at least one.
     */
    hosts: string[];
    /** The path prefix routed to the service, starting with `/`. Default: `"/"`. */
    path?: string;
    /** Attach an HTTPRoute to this Gateway. Exactly one of `gateway` and `ingress`. */
    gateway?: GatewayRef;
    /** Make an Ingress of this class. Exactly one of `gateway` and `ingress`. */
    ingress?: IngressRef;
    /**
     * TLS for the route: `url` is `https://`. `false` serves plain HTTP, which a production policy refuses.
     * Default: `{}` on a Gateway (its listener terminates TLS); on an Ingress, `issuer` must be given.
     */
    tls?: RouteTls | false;
}

const HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IPV4 = /^[0-9.]+$/;
// What the Gateway API's own rules admit in a path prefix (RFC 3986 path characters), and no dot segments.
const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

/** Why a host name is not one a route can serve, or undefined when it is. @internal */
export function hostProblem(host: unknown, wildcardAllowed: boolean): string | undefined {
    const what = "a DNS name in lowercase (letters, digits, '-' and '.'), not an IP address";
    if (typeof host !== "string" || host.length > 253 || !HOST.test(host) || IPV4.test(host) || host.split(".").some((l) => l.length > 63)) return what;
    if (host.startsWith("*.") && !wildcardAllowed) return `${what}; not a wildcard here: the first host is the one the service's URL names`;
    return undefined;
}

/** Why a path prefix is not one a route can serve, or undefined when it is. @internal */
export function pathProblem(path: unknown): string | undefined {
    const ok =
        typeof path === "string" &&
        path.length <= 1024 &&
        PATH.test(path) &&
        !path.includes("//") &&
        !/\/\.\.?(\/|$)/.test(path) &&
        !/%2f|%5c/i.test(path);
    return ok ? undefined : "an absolute path prefix: starts with /, no '//', no '.' or '..' segments, no encoded slashes, at most 1024 characters";
}

/** Every problem with `route`, given the workload's kind. @internal */
export function validateRoute(route: RouteArgs | undefined, kind: string | undefined): ArgProblem[] {
    if (route === undefined) return [];
    if (typeof route !== "object" || route === null) return [{ field: "route", value: route, allowed: "{ hosts, path?, gateway | ingress, tls? }" }];
    if (kind === "job") return [{ field: "route", value: route, allowed: "nothing: a job serves no port; route a service" }];
    const problems: ArgProblem[] = [];
    if (!Array.isArray(route.hosts) || route.hosts.length === 0) {
        problems.push({ field: "route.hosts", value: route.hosts, allowed: "one or more host names (required)" });
    } else {
        route.hosts.forEach((host, i) => {
            const why = hostProblem(host, i > 0);
            if (why) problems.push({ field: `route.hosts.${i}`, value: host, allowed: why });
        });
        const seen = new Set<string>();
        for (const [i, host] of route.hosts.entries()) {
            if (seen.has(host)) problems.push({ field: `route.hosts.${i}`, value: host, allowed: "a host not already listed" });
            seen.add(host);
        }
    }
    if (route.path !== undefined) {
        const why = pathProblem(route.path);
        if (why) problems.push({ field: "route.path", value: route.path, allowed: why });
    }
    if ((route.gateway === undefined) === (route.ingress === undefined)) {
        problems.push({ field: "route", value: route, allowed: "exactly one of gateway (an HTTPRoute) and ingress (an Ingress)" });
    }
    if (route.gateway !== undefined) {
        const g = route.gateway;
        if (known(g.name) && (typeof g.name !== "string" || !DNS_SUBDOMAIN.test(g.name))) problems.push({ field: "route.gateway.name", value: g.name, allowed: "a Gateway's name (a DNS subdomain)" });
        if (g.namespace !== undefined && (typeof g.namespace !== "string" || !DNS_LABEL.test(g.namespace))) {
            problems.push({ field: "route.gateway.namespace", value: g.namespace, allowed: "a namespace (a DNS label)" });
        }
        if (g.sectionName !== undefined && (typeof g.sectionName !== "string" || !DNS_LABEL.test(g.sectionName))) {
            problems.push({ field: "route.gateway.sectionName", value: g.sectionName, allowed: "a listener's name (a DNS label)" });
        }
        if (route.tls && route.tls.issuer !== undefined) {
            problems.push({
                field: "route.tls.issuer",
                value: route.tls.issuer,
                allowed: "unset on a Gateway: its listener terminates TLS with the Gateway's certificate (Gateway's issuer makes it)",
            });
        }
    }
    if (route.ingress !== undefined) {
        const i = route.ingress;
        if (i.className !== undefined && (typeof i.className !== "string" || !DNS_SUBDOMAIN.test(i.className))) {
            problems.push({ field: "route.ingress.className", value: i.className, allowed: "an IngressClass's name (a DNS subdomain)" });
        }
        if (typeof i.controllerNamespace !== "string" || !DNS_LABEL.test(i.controllerNamespace)) {
            problems.push({ field: "route.ingress.controllerNamespace", value: i.controllerNamespace, allowed: "the namespace of the ingress controller's pods (required; the NetworkPolicy admits them)" });
        }
        if (route.tls !== false && route.tls?.issuer === undefined) {
            problems.push({ field: "route.tls.issuer", value: undefined, allowed: "a cert-manager issuer { name, kind? } for the Ingress's certificate, or tls: false for plain HTTP" });
        }
    }
    if (route.tls !== undefined && route.tls !== false) problems.push(...validateIssuer("route.tls.issuer", route.tls.issuer, false));
    for (const key of Object.keys(route)) {
        if (!["hosts", "path", "gateway", "ingress", "tls"].includes(key)) {
            problems.push({ field: `route.${key}`, value: (route as unknown as Record<string, unknown>)[key], allowed: "only hosts, path, gateway, ingress and tls" });
        }
    }
    return problems;
}

/** Every problem with an issuer reference. @internal */
export function validateIssuer(field: string, issuer: IssuerRef | undefined, required: boolean): ArgProblem[] {
    if (issuer === undefined) return required ? [{ field, value: issuer, allowed: "a cert-manager issuer { name, kind? } (required)" }] : [];
    const problems: ArgProblem[] = [];
    if (typeof issuer.name !== "string" || !DNS_SUBDOMAIN.test(issuer.name)) problems.push({ field: `${field}.name`, value: issuer.name, allowed: "an issuer's name (a DNS subdomain)" });
    if (issuer.kind !== undefined && !ISSUER_KINDS.includes(issuer.kind)) {
        problems.push({ field: `${field}.kind`, value: issuer.kind, allowed: `one of ${ISSUER_KINDS.map((k) => `"${k}"`).join(", ")}` });
    }
    return problems;
}

/** The URL a user opens: the first host, the path, `https` unless TLS is off. @internal */
export function routeUrl(route: RouteArgs): string {
    return `${route.tls === false ? "http" : "https"}://${route.hosts[0]}${route.path ?? "/"}`;
}

/** A cert-manager Certificate for `hosts`, its Secret named `secretName`, that `up` waits to be Ready. @internal */
export function certificate(
    parent: pulumi.Resource,
    name: string,
    hosts: string[],
    issuer: IssuerRef,
    secretName: string,
    metadata: k8s.types.input.meta.v1.ObjectMeta & { annotations: Record<string, pulumi.Input<string>> },
    opts: pulumi.CustomResourceOptions,
): k8s.apiextensions.CustomResource {
    const kind = issuer.kind ?? "ClusterIssuer";
    return new k8s.apiextensions.CustomResource(
        name,
        {
            apiVersion: "cert-manager.io/v1",
            kind: "Certificate",
            metadata: { ...metadata, annotations: { ...metadata.annotations, "pulumi.com/waitFor": "condition=Ready" } },
            spec: { secretName, dnsNames: hosts, issuerRef: { group: "cert-manager.io", kind, name: issuer.name } },
        },
        // A changed certificate is made anew, so `up` waits for its issue: the old one's Ready would otherwise end
        // the wait at once. Its Secret stays meanwhile, and keeps serving until the new one is issued into it.
        { ...opts, replaceOnChanges: ["spec"], hooks: explainFailure(parent, `${name}-not-ready`, (failed) => explainCertificate(placeOf(failed), issuer)) },
    );
}

/**
 * The route for a Service: an HTTPRoute on `route.gateway`, or an Ingress (and its Certificate) of
 * `route.ingress`. `up` waits for the HTTPRoute to be Accepted by its Gateway, or the Ingress to have an
 * address and the Certificate to be Ready, within the workload's timeout. @internal
 */
export function routeResources(
    parent: pulumi.Resource,
    name: string,
    route: RouteArgs,
    service: k8s.core.v1.Service,
    servicePort: number,
    objectName: string,
    metadata: k8s.types.input.meta.v1.ObjectMeta & { annotations: Record<string, pulumi.Input<string>> },
    opts: pulumi.CustomResourceOptions,
): { httpRoute?: k8s.apiextensions.CustomResource; ingress?: k8s.networking.v1.Ingress; certificate?: k8s.apiextensions.CustomResource } {
    const path = route.path ?? "/";
    const routeOpts = { ...opts, dependsOn: [service] };
    if (route.gateway) {
        const g = route.gateway;
        const parentRef = { group: "gateway.networking.k8s.io", kind: "Gateway", name: g.name, namespace: g.namespace ?? metadata.namespace, sectionName: g.sectionName };
        const httpRoute = new k8s.apiextensions.CustomResource(
            `${name}-route`,
            {
                apiVersion: "gateway.networking.k8s.io/v1",
                kind: "HTTPRoute",
                metadata: {
                    ...metadata,
                    annotations: {
                        ...metadata.annotations,
                        [ROUTE_TLS_ANNOTATION]: String(route.tls !== false),
                        "pulumi.com/waitFor": 'jsonpath={.status.parents[*].conditions[?(@.type=="Accepted")].status}=True',
                    },
                },
                spec: {
                    parentRefs: [parentRef],
                    hostnames: route.hosts,
                    rules: [
                        {
                            matches: [{ path: { type: "PathPrefix", value: path } }],
                            backendRefs: [{ group: "", kind: "Service", name: service.metadata.name, port: servicePort, weight: 1 }],
                        },
                    ],
                },
            },
            // A route moved to another Gateway is made anew: its old parent's Accepted would otherwise end the wait at once.
            { ...routeOpts, replaceOnChanges: ["spec.parentRefs"], hooks: explainFailure(parent, `${name}-route-not-accepted`, explainRoute) },
        );
        return { httpRoute };
    }
    const ingressArgs = route.ingress!;
    const secretName = `${objectName}-tls`;
    const cert = route.tls === false ? undefined : certificate(parent, `${name}-certificate`, route.hosts, route.tls!.issuer!, secretName, metadata, opts);
    const ingress = new k8s.networking.v1.Ingress(
        `${name}-ingress`,
        {
            metadata: { ...metadata, annotations: { ...metadata.annotations, [ROUTE_TLS_ANNOTATION]: String(route.tls !== false) } },
            spec: {
                ingressClassName: ingressArgs.className,
                tls: cert ? [{ hosts: route.hosts, secretName }] : undefined,
                rules: route.hosts.map((host) => ({
                    host,
                    http: { paths: [{ path, pathType: "Prefix", backend: { service: { name: service.metadata.name, port: { number: servicePort } } } }] },
                })),
            },
        },
        { ...routeOpts, dependsOn: cert ? [service, cert] : [service] },
    );
    return { ingress, certificate: cert };
}

/**
 * On every route object: whether the route declared TLS. The policy pack reads it where the route's
 * Gateway is not in the stack, so it cannot see the listener.
 */
export const ROUTE_TLS_ANNOTATION = "dockyard.dev/route-tls";

interface StatusObject extends ClusterObject {
    status?: { conditions?: Condition[]; parents?: { parentRef: { name: string; namespace?: string; sectionName?: string }; conditions?: Condition[] }[] };
}

/**
 * Why an HTTPRoute was not Accepted: what its Gateway's status says about it, or, when no controller wrote
 * any, whether the Gateway exists and what its own conditions say. @internal
 */
export function routeNotAcceptedMessage(routeName: string, route: StatusObject | undefined, gatewayId: string, gateway: StatusObject | undefined): string {
    const head = `route ${routeName}: not Accepted by Gateway ${gatewayId}`;
    const parent = route?.status?.parents?.find((p) => p.conditions?.some((c) => c.type === "Accepted"));
    if (parent) {
        const conditions = parent.conditions!.filter((c) => c.status !== "True");
        return `${head}: its Gateway says ${conditions.map(said).join("; ") || "nothing yet"}.`;
    }
    if (gateway === undefined) return `${head}: Gateway ${gatewayId} does not exist; make it, or name an existing one in the route's gateway (name, namespace).`;
    const programmed = gateway.status?.conditions?.find((c) => c.type === "Programmed");
    if (programmed?.status !== "True") {
        return `${head}: the Gateway is not Programmed (${programmed ? said(programmed) : "no status: is a controller running for its gatewayClassName?"}).`;
    }
    return `${head}: the Gateway is Programmed but wrote no status for this route; check its listeners admit routes from the route's namespace and hosts.`;
}

/** Why a Certificate is not Ready: its condition, and whether its issuer exists. @internal */
export function certificateNotReadyMessage(certName: string, cert: StatusObject | undefined, issuer: IssuerRef, issuerObject: StatusObject | undefined): string {
    const kind = issuer.kind ?? "ClusterIssuer";
    const head = `certificate ${certName}: not Ready`;
    if (issuerObject === undefined) return `${head}: its issuer ${kind} "${issuer.name}" does not exist; make it, or name an existing one.`;
    const ready = cert?.status?.conditions?.find((c) => c.type === "Ready");
    const issuerReady = issuerObject.status?.conditions?.find((c) => c.type === "Ready");
    const issuerSays = issuerReady?.status === "True" ? "" : `; its issuer ${kind} "${issuer.name}" is not Ready${issuerReady ? ` (${said(issuerReady)})` : ""}`;
    return `${head} (${ready ? said(ready) : "no status: is cert-manager running?"})${issuerSays}.`;
}

/** Where the failed object is: its name and namespace, as the engine sent them to the provider. */
function placeOf(failed: pulumi.ErrorHookArgs): { namespace: string; name: string } {
    const metadata = (failed.newInputs?.metadata ?? failed.oldInputs?.metadata ?? {}) as { name?: string; namespace?: string };
    return { namespace: metadata.namespace ?? "default", name: metadata.name ?? failed.name };
}

async function explainRoute(failed: pulumi.ErrorHookArgs): Promise<string> {
    const { namespace, name } = placeOf(failed);
    const spec = (failed.newInputs?.spec ?? {}) as { parentRefs?: { name: string; namespace?: string }[] };
    const parent = spec.parentRefs?.[0] ?? { name: "(none)" };
    const gwNamespace = parent.namespace ?? namespace;
    const [live] = await kubectlGet(["get", "httproutes.v1.gateway.networking.k8s.io", name, "-n", namespace, "--ignore-not-found"], {}, "read the route");
    const [gw] = await kubectlGet(["get", "gateways.v1.gateway.networking.k8s.io", parent.name, "-n", gwNamespace, "--ignore-not-found"], {}, "read the route's Gateway");
    return routeNotAcceptedMessage(`${namespace}/${name}`, live as StatusObject | undefined, `${gwNamespace}/${parent.name}`, gw as StatusObject | undefined);
}

async function explainCertificate({ namespace, name }: { namespace: string; name: string }, issuer: IssuerRef): Promise<string> {
    const [live] = await kubectlGet(["get", "certificates.v1.cert-manager.io", name, "-n", namespace, "--ignore-not-found"], {}, "read the certificate");
    const issuerArgs =
        (issuer.kind ?? "ClusterIssuer") === "ClusterIssuer" ? ["get", "clusterissuers.v1.cert-manager.io", issuer.name] : ["get", "issuers.v1.cert-manager.io", issuer.name, "-n", namespace];
    const [found] = await kubectlGet([...issuerArgs, "--ignore-not-found"], {}, "read the certificate's issuer");
    return certificateNotReadyMessage(`${namespace}/${name}`, live as StatusObject | undefined, issuer, found as StatusObject | undefined);
}

/** The pods a route's traffic comes from: the Gateway's namespace, or the ingress controller's. @internal */
export function routeProxy(route: RouteArgs | undefined): { namespace: string } | undefined {
    const namespace = route?.gateway?.namespace ?? route?.ingress?.controllerNamespace;
    return namespace === undefined ? undefined : { namespace };
}
