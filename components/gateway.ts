import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { explainFailure } from "./internal/errorHook";
import { kubectlGet } from "./internal/cluster";
import { type Condition, said } from "./internal/conditions";
import { type ArgProblem, checkInteger, throwIfAny } from "./internal/problems";
import { STACK_ANNOTATION } from "./internal/stack";
import { type KubernetesObjectRef, currentStackName } from "./kubernetesWorkload";
import { type GatewayRef, type IssuerRef, certificate, hostProblem, validateIssuer } from "./route";
import { DNS_LABEL, DNS_SUBDOMAIN } from "./internal/names";

/** A Gateway a stack owns: an HTTPS listener for its routes' hosts, and plain HTTP redirected to it. */
export interface GatewayArgs {
    /** The GatewayClass of the cluster's Gateway API controller. Required. */
    gatewayClassName: string;
    /** The host names the HTTPS listener serves: its certificate names each. Required, at least one. */
    hosts: string[];
    /** The cert-manager issuer of the certificate. Required. */
    issuer: IssuerRef;
    /** Namespaces whose routes may attach to the HTTPS listener, beside the Gateway's own. Default: `[]`. */
    routeNamespaces?: string[];
    /** Answer plain HTTP on port 80 with a redirect to HTTPS (an HTTPRoute on the `http` listener). Default: `true`. */
    httpRedirect?: boolean;
    /** Namespace of the Gateway, its Certificate and its Secret. Default: the provider's namespace. */
    namespace?: pulumi.Input<string>;
    /** Name of the Gateway; its Certificate and redirect route are named after it. Default: the component's name. */
    objectName?: string;
    /**
     * Seconds `up` waits for the certificate to be Ready and the Gateway to be Programmed, then fails naming
     * which is not and what its condition says. Default: `300`.
     */
    readyTimeoutSeconds?: number;
    /** Kubernetes provider for every object. Default: the one from `opts`, else the ambient default provider. */
    provider?: k8s.Provider;
}

/** The listener names a route attaches to. */
export const GATEWAY_LISTENERS = { https: "https", http: "http" } as const;


/** Every problem with Gateway arguments, by field. */
export function validateGatewayArgs(args: GatewayArgs): ArgProblem[] {
    const problems: ArgProblem[] = [];
    if (typeof args.gatewayClassName !== "string" || !DNS_SUBDOMAIN.test(args.gatewayClassName)) {
        problems.push({ field: "gatewayClassName", value: args.gatewayClassName, allowed: "a GatewayClass's name (a DNS subdomain, required)" });
    }
    if (!Array.isArray(args.hosts) || args.hosts.length === 0) {
        problems.push({ field: "hosts", value: args.hosts, allowed: "one or more host names (required)" });
    } else {
        args.hosts.forEach((host, i) => {
            // A wildcard needs an issuer that solves DNS-01: whether this one does is cert-manager's to say.
            const why = hostProblem(host, true);
            if (why) problems.push({ field: `hosts.${i}`, value: host, allowed: why });
            else if (args.hosts.indexOf(host) !== i) problems.push({ field: `hosts.${i}`, value: host, allowed: "a host not already listed" });
        });
    }
    problems.push(...validateIssuer("issuer", args.issuer, true));
    for (const [i, ns] of (args.routeNamespaces ?? []).entries()) {
        if (typeof ns !== "string" || !DNS_LABEL.test(ns)) problems.push({ field: `routeNamespaces.${i}`, value: ns, allowed: "a namespace (a DNS label)" });
    }
    if (args.objectName !== undefined && (!DNS_SUBDOMAIN.test(args.objectName) || args.objectName.length > 63)) {
        problems.push({ field: "objectName", value: args.objectName, allowed: "a DNS subdomain of at most 63 characters" });
    }
    checkInteger(problems, "readyTimeoutSeconds", args.readyTimeoutSeconds, 1, 86_400);
    return problems;
}

/** The objects `new Gateway(name, args)` makes under fixed names, in its namespace. */
export function gatewayObjects(name: string, args: Pick<GatewayArgs, "objectName" | "httpRedirect">): KubernetesObjectRef[] {
    const objectName = args.objectName ?? name;
    const ref = (apiVersion: string, kind: string, n: string) => ({ apiVersion, kind, name: n, instance: name });
    return [
        ref("cert-manager.io/v1", "Certificate", objectName),
        ref("gateway.networking.k8s.io/v1", "Gateway", objectName),
        ...(args.httpRedirect ?? true ? [ref("gateway.networking.k8s.io/v1", "HTTPRoute", `${objectName}-redirect`)] : []),
    ];
}

/**
 * A Gateway API Gateway (`gateway.networking.k8s.io/v1`) of the stack's own: a `https` listener on 443
 * terminating TLS with a cert-manager Certificate for every host, and, unless turned off, a `http` listener on
 * 80 whose only route redirects to HTTPS. `up` waits for the Certificate to be Ready and the Gateway to be
 * Programmed. Routes attach to `ref`.
 */
export class Gateway extends pulumi.ComponentResource {
    /** The Gateway. */
    public readonly gateway: k8s.apiextensions.CustomResource;
    /** The certificate its HTTPS listener serves. */
    public readonly certificate: k8s.apiextensions.CustomResource;
    /** With `httpRedirect`: the HTTPRoute that answers plain HTTP with a redirect. */
    public readonly redirectRoute?: k8s.apiextensions.CustomResource;
    /** What a workload's `route.gateway` takes: this Gateway's HTTPS listener. */
    public readonly ref: GatewayRef;

    constructor(name: string, args: GatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        throwIfAny(`Gateway "${name}"`, validateGatewayArgs(args));
        super("dockyard:kubernetes:Gateway", name, {}, opts);

        const objectName = args.objectName ?? name;
        const timeout = `${args.readyTimeoutSeconds ?? 300}s`;
        const labels = { "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "dockyard", "app.kubernetes.io/instance": name };
        const annotations = { [STACK_ANNOTATION]: currentStackName(), "pulumi.com/patchForce": "true" };
        const metadata = { name: objectName, namespace: args.namespace, labels, annotations };
        const childOpts: pulumi.CustomResourceOptions = { parent: this, provider: args.provider, deleteBeforeReplace: true, customTimeouts: { create: timeout, update: timeout } };
        const secretName = `${objectName}-tls`;

        this.certificate = certificate(this, `${name}-certificate`, args.hosts, args.issuer, secretName, metadata, childOpts);
        const ownNamespace = { namespaces: { from: "Same" } };
        const allowedRoutes = args.routeNamespaces?.length
            ? {
                  namespaces: {
                      from: "Selector",
                      selector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: args.routeNamespaces }] },
                  },
              }
            : ownNamespace;
        const redirect = args.httpRedirect ?? true;
        this.gateway = new k8s.apiextensions.CustomResource(
            `${name}-gateway`,
            {
                apiVersion: "gateway.networking.k8s.io/v1",
                kind: "Gateway",
                metadata: { ...metadata, annotations: { ...annotations, "pulumi.com/waitFor": "condition=Programmed" } },
                spec: {
                    gatewayClassName: args.gatewayClassName,
                    listeners: [
                        {
                            name: GATEWAY_LISTENERS.https,
                            port: 443,
                            protocol: "HTTPS",
                            tls: { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: secretName }] },
                            allowedRoutes,
                        },
                        ...(redirect ? [{ name: GATEWAY_LISTENERS.http, port: 80, protocol: "HTTP", allowedRoutes: ownNamespace }] : []),
                    ],
                },
            },
            { ...childOpts, dependsOn: [this.certificate], hooks: explainFailure(this, `${name}-not-programmed`, explainGateway) },
        );
        if (redirect) {
            this.redirectRoute = new k8s.apiextensions.CustomResource(
                `${name}-redirect`,
                {
                    apiVersion: "gateway.networking.k8s.io/v1",
                    kind: "HTTPRoute",
                    metadata: { ...metadata, name: `${objectName}-redirect` },
                    spec: {
                        parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: this.gateway.metadata.name, sectionName: GATEWAY_LISTENERS.http }],
                        hostnames: args.hosts,
                        rules: [{ filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }] }],
                    },
                },
                childOpts,
            );
        }
        const gatewayNamespace = args.namespace;
        this.ref = { name: this.gateway.metadata.name, namespace: typeof gatewayNamespace === "string" ? gatewayNamespace : undefined, sectionName: GATEWAY_LISTENERS.https };
        this.registerOutputs({ name: this.gateway.metadata.name });
    }
}

/** Why a Gateway is not Programmed: its own conditions, or none at all when no controller serves its class. @internal */
export function gatewayNotProgrammedMessage(id: string, className: string, conditions: Condition[] | undefined): string {
    const wrong = (conditions ?? []).filter((c) => c.status !== "True");
    if (!conditions?.length) return `Gateway ${id}: not Programmed: no status at all; is a Gateway API controller running for gatewayClassName "${className}"?`;
    return `Gateway ${id}: not Programmed: ${wrong.map(said).join("; ")}.`;
}

async function explainGateway(failed: pulumi.ErrorHookArgs): Promise<string | undefined> {
    const inputs = (failed.newInputs ?? {}) as { metadata?: { name?: string; namespace?: string }; spec?: { gatewayClassName?: string } };
    const namespace = inputs.metadata?.namespace ?? "default";
    const name = inputs.metadata?.name ?? failed.name;
    const [live] = await kubectlGet(["get", "gateways.v1.gateway.networking.k8s.io", name, "-n", namespace, "--ignore-not-found"], {}, "read the Gateway");
    const status = (live as { status?: { conditions?: Condition[] } } | undefined)?.status;
    return gatewayNotProgrammedMessage(`${namespace}/${name}`, inputs.spec?.gatewayClassName ?? "?", status?.conditions);
}
