// The way in: routes (HTTPRoute or Ingress), the stack's own Gateway, certificates, the NetworkPolicy, and
// what `up` says when one of them never becomes ready.
import * as pulumi from "@pulumi/pulumi";
import { strict as assert } from "assert";
import { Gateway, gatewayNotProgrammedMessage, validateGatewayArgs } from "../../components/gateway";
import { KubernetesWorkload, type KubernetesWorkloadArgs, validateKubernetesWorkloadArgs } from "../../components/kubernetesWorkload";
import { certificateNotReadyMessage, routeNotAcceptedMessage } from "../../components/route";
import { known, ofType, registered, resetRegistrations, settle, useMocks } from "../support/mocks";

const IMAGE = `registry.local/server@sha256:${"b".repeat(64)}`;
const HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute";
const CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate";
const POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const SELECTOR = { "app.kubernetes.io/name": "server", "app.kubernetes.io/instance": "web" };

async function workload(args: Omit<KubernetesWorkloadArgs, "image">): Promise<KubernetesWorkload> {
    const w = new KubernetesWorkload("web", { image: IMAGE, appName: "server", namespace: "shop", ...args });
    await known((w.service ?? w.job)!.urn);
    await settle();
    return w;
}

describe("routes, Gateways and network policies", () => {
    before(() => useMocks());
    beforeEach(resetRegistrations);

    describe("a route through a Gateway", () => {
        it("is an HTTPRoute on the Gateway's listener to the Service's port, waited on until Accepted, its URL an output", async () => {
            const w = await workload({ servicePort: 80, route: { hosts: ["shop.example.com", "*.shop.example.com"], path: "/api", gateway: { name: "edge", namespace: "infra", sectionName: "https" } } });
            const route = registered(HTTP_ROUTE, "web-route").inputs;
            assert.equal(route.metadata.name, "server");
            assert.equal(route.metadata.namespace, "shop");
            assert.equal(route.metadata.annotations["pulumi.com/waitFor"], 'jsonpath={.status.parents[*].conditions[?(@.type=="Accepted")].status}=True');
            assert.equal(route.metadata.annotations["dockyard.dev/route-tls"], "true");
            assert.deepEqual(route.spec, {
                parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "edge", namespace: "infra", sectionName: "https" }],
                hostnames: ["shop.example.com", "*.shop.example.com"],
                rules: [{ matches: [{ path: { type: "PathPrefix", value: "/api" } }], backendRefs: [{ group: "", kind: "Service", name: "server", port: 80, weight: 1 }] }],
            });
            assert.equal(await known(w.url!), "https://shop.example.com/api");
            // No certificate of its own: the Gateway's listener terminates TLS.
            assert.equal(ofType(CERTIFICATE).length, 0);
        });

        it("admits the Gateway's namespace to the app's port, and the app's own namespace and allowFrom to every port", async () => {
            await workload({
                metrics: { port: 9102 },
                route: { hosts: ["shop.example.com"], gateway: { name: "edge", namespace: "infra" } },
                networkPolicy: { allowFrom: [{ namespace: "batch", podLabels: { role: "reporter" } }, { podLabels: { role: "sidecar" } }], scrapeFrom: [{ namespace: "monitoring" }] },
            });
            const policy = registered(POLICY, "web-network-policy").inputs;
            assert.equal(policy.metadata.name, "server");
            assert.deepEqual(policy.spec.podSelector, { matchLabels: SELECTOR });
            assert.deepEqual(policy.spec.policyTypes, ["Ingress"], "egress stays open");
            const ns = (name: string) => ({ matchLabels: { "kubernetes.io/metadata.name": name } });
            assert.deepEqual(policy.spec.ingress, [
                { from: [{ podSelector: {} }, { namespaceSelector: ns("batch"), podSelector: { matchLabels: { role: "reporter" } } }, { podSelector: { matchLabels: { role: "sidecar" } } }] },
                { from: [{ namespaceSelector: ns("infra") }], ports: [{ port: "http", protocol: "TCP" }] },
                { from: [{ namespaceSelector: ns("monitoring") }], ports: [{ port: "metrics", protocol: "TCP" }] },
            ]);
        });

        it("puts a plain-HTTP route on record for the policy pack, with an http URL", async () => {
            const w = await workload({ route: { hosts: ["shop.example.com"], gateway: { name: "edge" }, tls: false } });
            assert.equal(registered(HTTP_ROUTE, "web-route").inputs.metadata.annotations["dockyard.dev/route-tls"], "false");
            assert.equal(await known(w.url!), "http://shop.example.com/");
        });
    });

    describe("a route through an Ingress", () => {
        it("is an Ingress of the class, its TLS from a Certificate the workload makes and waits on", async () => {
            const w = await workload({ route: { hosts: ["shop.example.com"], ingress: { className: "nginx", controllerNamespace: "ingress-nginx" }, tls: { issuer: { name: "ca", kind: "Issuer" } } } });
            const ingress = registered("kubernetes:networking.k8s.io/v1:Ingress", "web-ingress").inputs;
            assert.deepEqual(ingress.spec, {
                ingressClassName: "nginx",
                tls: [{ hosts: ["shop.example.com"], secretName: "server-tls" }],
                rules: [{ host: "shop.example.com", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "server", port: { number: 8080 } } } }] } }],
            });
            const cert = registered(CERTIFICATE, "web-certificate").inputs;
            assert.equal(cert.metadata.annotations["pulumi.com/waitFor"], "condition=Ready");
            assert.deepEqual(cert.spec, { secretName: "server-tls", dnsNames: ["shop.example.com"], issuerRef: { group: "cert-manager.io", kind: "Issuer", name: "ca" } });
            assert.equal(await known(w.url!), "https://shop.example.com/");
            const policy = registered(POLICY, "web-network-policy").inputs;
            assert.deepEqual(policy.spec.ingress[1].from, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }]);
        });
    });

    it("admits a CIDR block as an ipBlock peer: clients that are not pods, such as a Prometheus on the nodes' network", async () => {
        await workload({ metrics: { port: 9102 }, networkPolicy: { allowFrom: [{ cidr: "fd00:10::/64" }], scrapeFrom: [{ cidr: "10.217.0.0/24" }] } });
        const policy = registered(POLICY, "web-network-policy").inputs;
        assert.deepEqual(policy.spec.ingress, [
            { from: [{ podSelector: {} }, { ipBlock: { cidr: "fd00:10::/64" } }] },
            { from: [{ ipBlock: { cidr: "10.217.0.0/24" } }], ports: [{ port: "metrics", protocol: "TCP" }] },
        ]);
    });

    it("takes a CIDR block only in the form the API server keeps, host bits zero", () => {
        const problems = (cidr: string) => validateKubernetesWorkloadArgs({ image: IMAGE, networkPolicy: { allowFrom: [{ cidr }] } }).map((p) => p.field);
        for (const good of ["10.0.0.0/8", "10.217.0.0/24", "192.168.1.7/32", "0.0.0.0/0", "fd00:10::/64", "::/0", "::ffff:10.0.0.0/120", "2001:db8::1/128"]) {
            assert.deepEqual(problems(good), [], good);
        }
        for (const bad of ["10.217.0.2/24", "10.0.0.0", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/8/8", "010.0.0.0/8", "fd00:10::1/64", "fe80::%eth0/64", "::/129", "example.com/24"]) {
            assert.deepEqual(problems(bad), ["networkPolicy.allowFrom.0.cidr"], bad);
        }
    });

    it("makes no NetworkPolicy when turned off, nor for a job", async () => {
        await workload({ networkPolicy: false });
        await workload({ kind: "job" });
        assert.equal(ofType(POLICY).length, 0);
    });

    it("refuses every bad route by field, before anything is registered", () => {
        const problems = (args: Omit<KubernetesWorkloadArgs, "image">) => validateKubernetesWorkloadArgs({ image: IMAGE, ...args }).map((p) => `${p.field}: ${p.allowed}`);
        const gateway = { name: "edge" };
        assert.deepEqual(problems({ route: { hosts: [], gateway } }), ["route.hosts: one or more host names (required)"]);
        assert.match(problems({ route: { hosts: ["a_b.example.com"], gateway } })[0], /^route\.hosts\.0: a DNS name in lowercase/);
        assert.match(problems({ route: { hosts: ["a.example.com", "a.example.com"], gateway } })[0], /^route\.hosts\.1: a host not already listed/);
        assert.match(problems({ route: { hosts: ["a.example.com"], path: "/a/../b", gateway } })[0], /^route\.path: an absolute path prefix.*no '\.' or '\.\.' segments/);
        assert.match(problems({ route: { hosts: ["a.example.com"], path: "/a%2Fb", gateway } })[0], /^route\.path: .*no encoded slashes/);
        assert.deepEqual(problems({ route: { hosts: ["a.example.com"] } }), ["route: exactly one of gateway (an HTTPRoute) and ingress (an Ingress)"]);
        assert.deepEqual(problems({ route: { hosts: ["a.example.com"], gateway, tls: { issuer: { name: "ca" } } } }), [
            "route.tls.issuer: unset on a Gateway: its listener terminates TLS with the Gateway's certificate (Gateway's issuer makes it)",
        ]);
        assert.deepEqual(problems({ route: { hosts: ["a.example.com"], ingress: { controllerNamespace: "ingress" } } }), [
            "route.tls.issuer: a cert-manager issuer { name, kind? } for the Ingress's certificate, or tls: false for plain HTTP",
        ]);
        assert.deepEqual(problems({ route: { hosts: ["a.example.com"], ingress: {} as never, tls: false } }), [
            "route.ingress.controllerNamespace: the namespace of the ingress controller's pods (required; the NetworkPolicy admits them)",
        ]);
        assert.deepEqual(problems({ kind: "job", route: { hosts: ["a.example.com"], gateway } }), ["route: nothing: a job serves no port; route a service"]);
        assert.deepEqual(problems({ route: { hosts: ["a.example.com"], gateway: { name: "Edge", sectionName: "HTTPS" } } }), [
            "route.gateway.name: a Gateway's name (a DNS subdomain)",
            "route.gateway.sectionName: a listener's name (a DNS label)",
        ]);
    });

    describe("the stack's own Gateway", () => {
        it("serves HTTPS for every host from a Certificate, redirects plain HTTP, and admits the named namespaces' routes", async () => {
            const g = new Gateway("gateway", { gatewayClassName: "edge", hosts: ["a.example.com", "b.example.com"], issuer: { name: "ca" }, namespace: "infra", routeNamespaces: ["shop"] });
            await known(g.gateway.urn);
            await settle();
            const cert = registered(CERTIFICATE, "gateway-certificate").inputs;
            assert.deepEqual(cert.spec, { secretName: "gateway-tls", dnsNames: ["a.example.com", "b.example.com"], issuerRef: { group: "cert-manager.io", kind: "ClusterIssuer", name: "ca" } });
            const gw = registered("kubernetes:gateway.networking.k8s.io/v1:Gateway", "gateway-gateway").inputs;
            assert.equal(gw.metadata.annotations["pulumi.com/waitFor"], "condition=Programmed");
            assert.deepEqual(gw.spec, {
                gatewayClassName: "edge",
                listeners: [
                    {
                        name: "https",
                        port: 443,
                        protocol: "HTTPS",
                        tls: { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: "gateway-tls" }] },
                        allowedRoutes: { namespaces: { from: "Selector", selector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["shop"] }] } } },
                    },
                    { name: "http", port: 80, protocol: "HTTP", allowedRoutes: { namespaces: { from: "Same" } } },
                ],
            });
            const redirect = registered(HTTP_ROUTE, "gateway-redirect").inputs;
            assert.deepEqual(redirect.spec, {
                parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "gateway", sectionName: "http" }],
                hostnames: ["a.example.com", "b.example.com"],
                rules: [{ filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }] }],
            });
            assert.equal(await known(pulumi.output(g.ref.name)), "gateway");
            assert.deepEqual({ ...g.ref, name: undefined }, { name: undefined, namespace: "infra", sectionName: "https" });
        });

        it("refuses bad args by field", () => {
            const problems = validateGatewayArgs({ gatewayClassName: "", hosts: ["ok.example.com", "1.2.3.4"], issuer: { name: "ca", kind: "Vault" as never }, routeNamespaces: ["Shop"] });
            assert.deepEqual(
                problems.map((p) => p.field),
                ["gatewayClassName", "hosts.1", "issuer.kind", "routeNamespaces.0"],
            );
        });
    });

    describe("what up says when the way in is not ready", () => {
        const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message });
        const object = (status: unknown) => ({ apiVersion: "v1", kind: "X", metadata: { name: "x" }, status }) as never;

        it("names a Gateway that does not exist", () => {
            assert.equal(
                routeNotAcceptedMessage("shop/server", object({}), "infra/edge", undefined),
                "route shop/server: not Accepted by Gateway infra/edge: Gateway infra/edge does not exist; make it, or name an existing one in the route's gateway (name, namespace).",
            );
        });

        it("says what the Gateway wrote about the route", () => {
            const route = object({ parents: [{ parentRef: { name: "edge" }, conditions: [condition("Accepted", "False", "NotAllowedByListeners", "no listener admits namespace shop")] }] });
            assert.equal(
                routeNotAcceptedMessage("shop/server", route, "infra/edge", object({})),
                "route shop/server: not Accepted by Gateway infra/edge: its Gateway says Accepted=False (NotAllowedByListeners: no listener admits namespace shop).",
            );
        });

        it("names a Gateway no controller programs", () => {
            assert.match(routeNotAcceptedMessage("shop/server", object({}), "infra/edge", object({})), /the Gateway is not Programmed \(no status: is a controller running for its gatewayClassName\?\)/);
            assert.equal(gatewayNotProgrammedMessage("infra/edge", "edge", undefined), 'Gateway infra/edge: not Programmed: no status at all; is a Gateway API controller running for gatewayClassName "edge"?');
            assert.equal(
                gatewayNotProgrammedMessage("infra/edge", "edge", [condition("Accepted", "True", "Accepted", ""), condition("Programmed", "False", "Invalid", "listener https: secret edge-tls not found")]),
                "Gateway infra/edge: not Programmed: Programmed=False (Invalid: listener https: secret edge-tls not found).",
            );
        });

        it("names an issuer that does not exist, or says what the certificate and its issuer report", () => {
            assert.equal(
                certificateNotReadyMessage("shop/server", object({}), { name: "letsencrypt" }, undefined),
                'certificate shop/server: not Ready: its issuer ClusterIssuer "letsencrypt" does not exist; make it, or name an existing one.',
            );
            assert.equal(
                certificateNotReadyMessage("shop/server", object({ conditions: [condition("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist")] }), { name: "ca", kind: "Issuer" }, object({ conditions: [condition("Ready", "False", "ErrGetKeyPair", "secret ca-key not found")] })),
                'certificate shop/server: not Ready (Ready=False (DoesNotExist: Issuing certificate as Secret does not exist)); its issuer Issuer "ca" is not Ready (Ready=False (ErrGetKeyPair: secret ca-key not found)).',
            );
        });
    });
});
