// A STAND-IN for what does not build here (docs/testing.md): a Gateway API implementation, the part of an
// ingress controller that publishes an Ingress's address, and, on a cluster without the harness's real
// cert-manager (one's own), cert-manager's controller. It writes what they would write, and nothing else, for
// objects in the suite's own namespaces only: a GatewayClass of its own Accepted; an Ingress of an IngressClass
// of its own given an address (where Skipper, the suite's ingress proxy, listens, when it runs); a Gateway of
// that class Programmed once every certificate its HTTPS listeners name exists; an HTTPRoute's parent status
// (Accepted, or why not, and ResolvedRefs) where its Gateway exists and is of that class, none where it does
// not, as a real controller writes none; and, given a CA, a Certificate issued (a TLS Secret signed by that CA,
// Ready) when its issuer exists, Ready=False otherwise. It moves no traffic: Skipper does that for the
// Ingresses (cluster.sh). `up`'s waits, its messages and everything the API server admits or refuses stay real.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Cluster } from "./cluster";
import { NEW_KEY, type SuiteCa } from "./suiteCa";

export const STAND_IN_CONTROLLER = "dockyard.dev/e2e-stand-in";
/** The address it publishes for an Ingress while no proxy serves it: a name that resolves nowhere. */
export const STAND_IN_ADDRESS = "stand-in.dockyard-e2e.invalid";

/** An Ingress's address, as `status.loadBalancer.ingress[]` has it. */
export type IngressAddress = { hostname: string } | { ip: string };

/** What a pass reads, in the order it destructures them. */
const KINDS = [
    { resource: "gatewayclasses.v1.gateway.networking.k8s.io", kind: "GatewayClass" },
    { resource: "issuers.v1.cert-manager.io", kind: "Issuer" },
    { resource: "clusterissuers.v1.cert-manager.io", kind: "ClusterIssuer" },
    { resource: "certificates.v1.cert-manager.io", kind: "Certificate" },
    { resource: "gateways.v1.gateway.networking.k8s.io", kind: "Gateway" },
    { resource: "httproutes.v1.gateway.networking.k8s.io", kind: "HTTPRoute" },
    { resource: "ingressclasses.v1.networking.k8s.io", kind: "IngressClass" },
    { resource: "ingresses.v1.networking.k8s.io", kind: "Ingress" },
    { resource: "services", kind: "Service" },
    { resource: "secrets", kind: "Secret" },
];

interface Condition {
    type: string;
    status: "True" | "False";
    reason: string;
    message: string;
    lastTransitionTime?: string;
    observedGeneration?: number;
}

interface Obj {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; generation?: number; labels?: Record<string, string> };
    spec: any;
    status?: any;
}

export class GatewayStandIn {
    private timer?: NodeJS.Timeout;
    private running?: Promise<void>;
    private readonly work = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-e2e-stand-in-"));
    /** The address it gives an Ingress of its class: where the proxy that serves them listens, once one does. */
    ingressAddress: IngressAddress = { hostname: STAND_IN_ADDRESS };
    /** What went wrong in a pass, the last one: a test that waits in vain can say why. */
    lastError?: string;

    /**
     * `owns`: the namespaces whose objects it acts on (the suite's). `issuingWith`: the CA it issues certificates
     * with, standing in for cert-manager's controller too; none where the real one runs.
     */
    constructor(
        private readonly cluster: Cluster,
        private readonly owns: (namespace: string) => boolean,
        private readonly issuingWith?: SuiteCa,
    ) {}

    /** A pass every second until `stop`. */
    start(): void {
        const tick = () => {
            this.running = this.pass().then(
                () => {
                    this.lastError = undefined;
                },
                (e) => {
                    this.lastError = (e as Error).message;
                },
            );
            void this.running.then(() => {
                if (this.timer) this.timer = setTimeout(tick, 1000);
            });
        };
        this.timer = setTimeout(tick, 0);
    }

    async stop(): Promise<void> {
        clearTimeout(this.timer);
        this.timer = undefined;
        await this.running;
        fs.rmSync(this.work, { recursive: true, force: true });
    }

    private async pass(): Promise<void> {
        // One kubectl a pass: the suite runs beside it on two cores.
        const all = ((await this.cluster.getJson(["get", KINDS.map((k) => k.resource).join(","), "--all-namespaces"])).items as Obj[]).filter(
            (o) => o.metadata.namespace === undefined || this.owns(o.metadata.namespace),
        );
        const [classes, issuers, clusterIssuers, certificates, gateways, routes, ingressClasses, ingresses, services, secrets] = KINDS.map(({ kind }) =>
            all.filter((o) => o.kind === kind),
        );
        const ours = new Set(classes.filter((c) => c.spec.controllerName === STAND_IN_CONTROLLER).map((c) => c.metadata.name));
        for (const c of classes.filter((c) => ours.has(c.metadata.name))) {
            await this.setConditions(c, "gatewayclasses.v1.gateway.networking.k8s.io", [cond("Accepted", true, "Accepted", "handled by the suite's stand-in")]);
        }
        for (const issuer of this.issuingWith ? [...issuers, ...clusterIssuers] : []) {
            const resource = issuer.kind === "Issuer" ? "issuers.v1.cert-manager.io" : "clusterissuers.v1.cert-manager.io";
            await this.setConditions(issuer, resource, [cond("Ready", true, "IsReady", "Signing CA verified")]);
        }
        const has = (list: Obj[], namespace: string | undefined, name: string) => list.some((o) => o.metadata.name === name && o.metadata.namespace === namespace);
        for (const cert of this.issuingWith ? certificates : []) {
            const ns = cert.metadata.namespace!;
            const ref = cert.spec.issuerRef;
            const issuerExists = ref.kind === "Issuer" ? has(issuers, ns, ref.name) : has(clusterIssuers, undefined, ref.name);
            if (!issuerExists) {
                await this.setConditions(cert, "certificates.v1.cert-manager.io", [cond("Ready", false, "DoesNotExist", "Issuing certificate as Secret does not exist")]);
                continue;
            }
            if (!has(secrets, ns, cert.spec.secretName)) await this.issue(ns, cert.spec.secretName, cert.spec.dnsNames);
            await this.setConditions(cert, "certificates.v1.cert-manager.io", [cond("Ready", true, "Ready", "Certificate is up to date and has not expired")]);
        }
        const gatewayOf = (namespace: string, name: string) => gateways.find((g) => g.metadata.namespace === namespace && g.metadata.name === name);
        for (const gw of gateways.filter((g) => ours.has(g.spec.gatewayClassName))) {
            const missing = (gw.spec.listeners as any[])
                .flatMap((l) => (l.tls?.certificateRefs ?? []).map((r: any) => ({ listener: l.name, secret: r.name, namespace: r.namespace ?? gw.metadata.namespace })))
                .filter((r) => !has(secrets, r.namespace, r.secret) && !this.issuedSince(r.namespace, r.secret));
            const programmed = missing.length === 0;
            const why = missing.map((m) => `listener ${m.listener}: Secret ${m.namespace}/${m.secret} does not exist`).join("; ");
            await this.setConditions(gw, "gateways.v1.gateway.networking.k8s.io", [
                cond("Accepted", true, "Accepted", "the class is the suite's stand-in"),
                cond("Programmed", programmed, programmed ? "Programmed" : "Invalid", programmed ? "programmed by the suite's stand-in (it moves no traffic)" : why),
            ]);
        }
        for (const route of routes) {
            const ns = route.metadata.namespace!;
            const parents = (route.spec.parentRefs as any[]).flatMap((ref) => {
                const gw = gatewayOf(ref.namespace ?? ns, ref.name);
                if (!gw || !ours.has(gw.spec.gatewayClassName)) return [];
                const admitted = (gw.spec.listeners as any[]).filter((l) => (ref.sectionName === undefined || l.name === ref.sectionName) && admits(l, gw.metadata.namespace!, ns));
                const backendsFound = (route.spec.rules as any[]).flatMap((r) => r.backendRefs ?? []).every((b: any) => has(services, b.namespace ?? ns, b.name));
                const accepted =
                    admitted.length > 0
                        ? cond("Accepted", true, "Accepted", "accepted by the suite's stand-in")
                        : cond("Accepted", false, "NotAllowedByListeners", `no listener${ref.sectionName ? ` named ${ref.sectionName}` : ""} admits routes from namespace ${ns}`);
                const resolved = backendsFound ? cond("ResolvedRefs", true, "ResolvedRefs", "every backend exists") : cond("ResolvedRefs", false, "BackendNotFound", "a backend Service does not exist");
                return [{ parentRef: ref, controllerName: STAND_IN_CONTROLLER, conditions: [accepted, resolved].map((c) => stamp(c, route)) }];
            });
            const current = JSON.stringify((route.status?.parents ?? []).map(comparable));
            if (current !== JSON.stringify(parents.map(comparable))) await this.patchStatus(route, "httproutes.v1.gateway.networking.k8s.io", { parents });
        }
        const ourIngressClasses = new Set(ingressClasses.filter((c) => c.spec.controller === STAND_IN_CONTROLLER).map((c) => c.metadata.name));
        for (const ingress of ingresses.filter((i) => ourIngressClasses.has(i.spec.ingressClassName) && !i.status?.loadBalancer?.ingress?.length)) {
            await this.patchStatus(ingress, "ingresses.v1.networking.k8s.io", { loadBalancer: { ingress: [this.ingressAddress] } });
        }
    }

    /** Secrets issued in this pass, which the pass's own listing predates. */
    private readonly issued = new Set<string>();
    private issuedSince(namespace: string, name: string): boolean {
        return this.issued.has(`${namespace}/${name}`);
    }

    /** A TLS Secret for the hosts with a fresh key, signed by the suite's CA, as cert-manager's CA issuer makes it. */
    private async issue(namespace: string, name: string, hosts: string[]): Promise<void> {
        const ca = this.issuingWith!;
        const key = path.join(this.work, `${namespace}-${name}.key`);
        const crt = path.join(this.work, `${namespace}-${name}.crt`);
        execFileSync("openssl", [
            "req", "-x509", "-CA", ca.certFile, "-CAkey", ca.keyFile, ...NEW_KEY, "-keyout", key, "-out", crt,
            "-subj", `/CN=${hosts[0]}`, "-addext", `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(",")}`,
            "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth",
        ], { stdio: "ignore" });
        await this.cluster.kubectlOk([
            "create", "secret", "generic", name, "-n", namespace, "--type=kubernetes.io/tls",
            `--from-file=tls.crt=${crt}`, `--from-file=tls.key=${key}`, `--from-file=ca.crt=${ca.certFile}`,
        ]);
        this.issued.add(`${namespace}/${name}`);
    }

    /** Sets the object's conditions when they differ from what it has, by type, status and reason. */
    private async setConditions(o: Obj, resource: string, conditions: Condition[]): Promise<void> {
        const stamped = conditions.map((c) => stamp(c, o));
        if (JSON.stringify((o.status?.conditions ?? []).map(comparable)) === JSON.stringify(stamped.map(comparable))) return;
        await this.patchStatus(o, resource, { conditions: stamped });
    }

    private async patchStatus(o: Obj, resource: string, status: unknown): Promise<void> {
        const ns = o.metadata.namespace ? ["-n", o.metadata.namespace] : [];
        await this.cluster.kubectlOk(["patch", resource, o.metadata.name, ...ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
    }
}

function cond(type: string, ok: boolean, reason: string, message: string): Condition {
    return { type, status: ok ? "True" : "False", reason, message };
}

function stamp(c: Condition, o: Obj): Condition {
    return { ...c, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"), observedGeneration: o.metadata.generation ?? 1 };
}

/** What a status says, without its times: a pass rewrites only what changed. */
function comparable(x: any): unknown {
    if (Array.isArray(x)) return x.map(comparable);
    if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).filter(([k]) => k !== "lastTransitionTime").sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, comparable(v)]));
    return x;
}

/** Whether a listener admits routes from `namespace`, by its allowedRoutes (the Gateway API's default: the same namespace). */
function admits(listener: any, gatewayNamespace: string, namespace: string): boolean {
    const from = listener.allowedRoutes?.namespaces?.from ?? "Same";
    if (from === "All") return true;
    if (from === "Same") return namespace === gatewayNamespace;
    const expressions: any[] = listener.allowedRoutes.namespaces.selector?.matchExpressions ?? [];
    const labels: Record<string, string> = listener.allowedRoutes.namespaces.selector?.matchLabels ?? {};
    return (
        Object.entries(labels).every(([k, v]) => k === "kubernetes.io/metadata.name" && v === namespace) &&
        expressions.every((e) => e.key === "kubernetes.io/metadata.name" && e.operator === "In" && e.values.includes(namespace))
    );
}
