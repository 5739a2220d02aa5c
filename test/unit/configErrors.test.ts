// Bad stack configs: one error naming each key, value and what is allowed, and nothing registered.
import * as pulumi from "@pulumi/pulumi";
import { strict as assert } from "assert";
import { StackConfigError, parseStackConfig, readRawConfig } from "../../config";
import { allRegistrations, resetRegistrations, settle, useMocks } from "../support/mocks";
import { runProgram } from "../support/stacks";

type Raw = Record<string, unknown>;
const docker: Raw = { target: "docker", apps: { server: { port: 8080, hostPort: 8080 }, hello: { kind: "job" } } };
const kube: Raw = { target: "kubernetes", namespace: "shop", apps: { server: { replicas: 2 }, hello: { kind: "job" } } };
const withApp = (base: Raw, app: string, settings: Raw): Raw => ({ ...base, apps: { ...(base.apps as Raw), [app]: settings } });
const ownGateway = { gatewayClassName: "edge", issuer: { name: "ca" } };
const routed: Raw = { ...withApp(kube, "server", { replicas: 2, route: { hosts: ["shop.example.com"] } }), gateway: ownGateway };

const cases: [string, Raw, string[]][] = [
    ["no target", { apps: { server: {} } }, ['dockyard:target = (unset): one of "docker", "kubernetes"']],
    ["an unknown target", { ...docker, target: "nomad" }, ['dockyard:target = "nomad": one of "docker", "kubernetes"']],
    ["no apps", { target: "docker" }, ["dockyard:apps = (unset): required, an object"]],
    ["an empty apps map", { ...docker, apps: {} }, ["dockyard:apps = {}: at least one app"]],
    ["apps given as a list", { ...docker, apps: ["server"] }, ['dockyard:apps = ["server"]: an object']],
    ["an unknown top-level key", { ...docker, replicas: 3 }, ["dockyard:replicas: unknown key"]],
    ["two unknown keys, each its own problem", { ...docker, replicas: 3, region: "eu" }, ["dockyard:replicas: unknown key", "dockyard:region: unknown key"]],
    ["an app that has no folder", withApp(docker, "worker", {}), ['dockyard:apps.worker: no app named "worker" under apps/; known apps: hello, server']],
    ["an unknown app key", withApp(docker, "server", { ports: [8080] }), ["dockyard:apps.server.ports: unknown key"]],
    ["a misspelt limits key", withApp(kube, "server", { limit: { cpu: "1" } }), ["dockyard:apps.server.limit: unknown key"]],
    ["a port that is not a number", withApp(docker, "server", { port: "eighty" }), ['dockyard:apps.server.port = "eighty": a number']],
    ["a port out of range", withApp(docker, "server", { port: 70000 }), ["dockyard:apps.server.port = 70000: an integer from 1 to 65535"]],
    ["a job given a port", withApp(docker, "hello", { kind: "job", port: 8080 }), ["dockyard:apps.hello.port = 8080: nothing: a job publishes no port and has no health check"]],
    ["an unknown kind", withApp(docker, "hello", { kind: "cron" }), ['dockyard:apps.hello.kind = "cron": one of "service", "job"']],
    ["a docker-only key on a kubernetes stack", withApp(kube, "server", { hostPort: 8080 }), ['dockyard:apps.server.hostPort = 8080: not used when target is "kubernetes"']],
    ["a kubernetes-only key on a docker stack", withApp(docker, "server", { replicas: 3 }), ['dockyard:apps.server.replicas = 3: not used when target is "docker"']],
    ["autoscale on a docker stack", withApp(docker, "server", { autoscale: { minReplicas: 2, maxReplicas: 4, cpuUtilization: 50 } }), ['dockyard:apps.server.autoscale = {"minReplicas":2,"maxReplicas":4,"cpuUtilization":50}: not used when target is "docker"']],
    ["replicas beside autoscale", withApp(kube, "server", { replicas: 2, autoscale: { minReplicas: 2, maxReplicas: 4, cpuUtilization: 50 } }), ["dockyard:apps.server.replicas = 2: unset when autoscale is given: the autoscaler owns the replica count"]],
    ["an autoscale missing maxReplicas", withApp(kube, "server", { autoscale: { minReplicas: 2, cpuUtilization: 50 } }), ["dockyard:apps.server.autoscale.maxReplicas = (unset)"]],
    ["an autoscale range upside down", withApp(kube, "server", { autoscale: { minReplicas: 4, maxReplicas: 2, cpuUtilization: 50 } }), ["dockyard:apps.server.autoscale.maxReplicas = 2: at least autoscale.minReplicas (4)"]],
    [
        "a request rate on a stack that declares no custom metrics",
        withApp(kube, "server", { metrics: { port: 9102 }, autoscale: { minReplicas: 2, maxReplicas: 4, requestsPerSecond: 50 } }),
        ["dockyard:apps.server.autoscale.requestsPerSecond = 50: needs dockyard:customMetrics.requestsPerSecond on the stack"],
    ],
    [
        "a request-rate metric that is no metric name",
        { ...withApp(kube, "server", { metrics: { port: 9102 }, autoscale: { minReplicas: 2, maxReplicas: 4, requestsPerSecond: 50 } }), customMetrics: { requestsPerSecond: "http-rps" } },
        ['dockyard:customMetrics.requestsPerSecond = "http-rps": a metric name'],
    ],
    ["custom metrics on a docker stack", { ...docker, customMetrics: { requestsPerSecond: "http_requests_per_second" } }, ['dockyard:customMetrics = {"requestsPerSecond":"http_requests_per_second"}: not used when target is "docker"']],
    ["a node-loss toleration that is not a number", withApp(kube, "server", { nodeLossTolerationSeconds: "30s" }), ['dockyard:apps.server.nodeLossTolerationSeconds = "30s": a number']],
    ["probe paths on a docker stack", withApp(docker, "server", { readinessPath: "/readyz" }), ['dockyard:apps.server.readinessPath = "/readyz": not used when target is "docker"']],
    ["a relative probe path", withApp(kube, "server", { livenessPath: "healthz" }), ['dockyard:apps.server.livenessPath = "healthz": an absolute HTTP path starting with /']],
    ["imageHealthcheck on a kubernetes stack", withApp(kube, "server", { imageHealthcheck: true }), ['dockyard:apps.server.imageHealthcheck = true: not used when target is "kubernetes"']],
    ["a namespace on a docker stack", { ...docker, namespace: "shop" }, ['dockyard:namespace = "shop": not used when target is "docker"']],
    ["a host IP on a kubernetes stack", { ...kube, hostIp: "0.0.0.0" }, ['dockyard:hostIp = "0.0.0.0": not used when target is "kubernetes"']],
    ["a LoadBalancer the stack does not allow", withApp(kube, "server", { serviceType: "LoadBalancer" }), ['dockyard:apps.server.serviceType = "LoadBalancer": not allowed on this stack']],
    ["an unknown service type", withApp(kube, "server", { serviceType: "External" }), ['dockyard:apps.server.serviceType = "External": one of "ClusterIP", "NodePort", "LoadBalancer"']],
    ["a CPU limit that does not parse", withApp(kube, "server", { limits: { cpu: "lots" } }), ['dockyard:apps.server.limits.cpu = "lots": a positive CPU quantity']],
    ["negative replicas", withApp(kube, "server", { replicas: -1 }), ["dockyard:apps.server.replicas = -1: an integer from 0 to 1000"]],
    ["an env value that is not a string", withApp(docker, "server", { env: { DEBUG: { on: true } } }), ['dockyard:apps.server.env.DEBUG = {"on":true}: a string (a number or boolean is read as its text)']],
    ["a registry password without a registry", { ...kube, registryPassword: "x" }, ["dockyard:registryPassword: must be a secret", "dockyard:registryPassword: set, but there is no dockyard:registry"]],
    ["a registry without a server", { ...kube, registry: { username: "ci" } }, ["dockyard:registry.server = (unset): required, a string"]],
    ["a registry given as a URL", { ...kube, registry: { server: "https://registry.example.com" } }, ['dockyard:registry.server = "https://registry.example.com": a registry host']],
    ["a platform without an OS", { ...docker, platform: "arm64" }, ['dockyard:platform = "arm64": os/arch[/variant]']],
    ["a bad namespace", { ...kube, namespace: "Shop_NS" }, ['dockyard:namespace = "Shop_NS": a DNS label']],
    ["a host IP that is not an address", { ...docker, hostIp: "localhost" }, ['dockyard:hostIp = "localhost": an IPv4 or IPv6 address']],
    ["an app image by tag", withApp(kube, "server", { image: "registry.example.com/server:v1" }), ['dockyard:apps.server.image = "registry.example.com/server:v1": an image reference by digest']],
    ["two apps on one host port", withApp(docker, "hello", { hostPort: 8080 }), ['dockyard:apps.hello.hostPort = 8080: already taken by app "server"']],
    [
        "two apps with one container name",
        withApp(withApp(docker, "server", { containerName: "web" }), "hello", { kind: "job", containerName: "web" }),
        ['dockyard:apps.hello.containerName = "web": already taken by app "server"'],
    ],
    ["a Pod Security version that is not a minor", { ...kube, podSecurityVersion: "1.37" }, ['dockyard:podSecurityVersion = "1.37": a Kubernetes minor version such as "v1.37", or "latest"']],
    ["a promotion source that is no stack name", { ...kube, promoteFrom: "https://app.pulumi.com/acme" }, ['dockyard:promoteFrom = "https://app.pulumi.com/acme": a stack name: <stack>, or <organization>/<project>/<stack>']],
    ["pull secrets on a docker stack", { ...docker, imagePullSecrets: ["pull"] }, ['dockyard:imagePullSecrets = ["pull"]: not used when target is "docker"']],
    ["a route on the Docker target", withApp(docker, "server", { hostPort: 8080, route: { hosts: ["shop.example.com"] } }), ['dockyard:apps.server.route = {"hosts":["shop.example.com"]}: not on the Docker target, whose services are published on dockyard:hostIp']],
    ["a route with nothing to attach to", withApp(kube, "server", { route: { hosts: ["shop.example.com"] } }), ["dockyard:apps.server.route = {\"hosts\":[\"shop.example.com\"]}: needs dockyard:gateway (a Gateway API Gateway to attach to) or dockyard:ingress"]],
    ["a route on a job", withApp(routed, "hello", { kind: "job", route: { hosts: ["hello.example.com"] } }), ['dockyard:apps.hello.route = {"hosts":["hello.example.com"],"tls":{},"gateway":{"name":"dockyard","namespace":"shop","sectionName":"https"}}: nothing: a job serves no port']],
    ["a host that is not a DNS name", withApp(routed, "server", { route: { hosts: ["Shop.Example.com"] } }), ['dockyard:apps.server.route.hosts.0 = "Shop.Example.com": a DNS name in lowercase']],
    ["an IP address for a host", withApp(routed, "server", { route: { hosts: ["10.0.0.1"] } }), ['dockyard:apps.server.route.hosts.0 = "10.0.0.1": a DNS name in lowercase (letters, digits, \'-\' and \'.\'), not an IP address']],
    ["a wildcard as the URL's host", withApp(routed, "server", { route: { hosts: ["*.example.com"] } }), ['dockyard:apps.server.route.hosts.0 = "*.example.com": a DNS name in lowercase (letters, digits, \'-\' and \'.\'), not an IP address; not a wildcard here']],
    ["a path not starting with /", withApp(routed, "server", { route: { hosts: ["shop.example.com"], path: "api" } }), ['dockyard:apps.server.route.path = "api": an absolute path prefix: starts with /']],
    ["a path the Gateway API refuses", withApp(routed, "server", { route: { hosts: ["shop.example.com"], path: "/api//v1" } }), ['dockyard:apps.server.route.path = "/api//v1": an absolute path prefix: starts with /, no \'//\'']],
    [
        "two apps on one host and path",
        withApp(withApp(routed, "hello", { route: { hosts: ["shop.example.com"] } }), "server", { route: { hosts: ["shop.example.com"] } }),
        ['dockyard:apps.hello.route = "shop.example.com/": host and path already routed to app "server"'],
    ],
    ["an Ingress without an issuer", { ...withApp(kube, "server", { route: { hosts: ["shop.example.com"] } }), ingress: { controllerNamespace: "ingress" } }, ["dockyard:ingress.issuer = (unset): a cert-manager issuer { name, kind? } for the Ingress's certificate, or tls: false"]],
    ["a Gateway and an Ingress both", { ...routed, ingress: { controllerNamespace: "ingress", issuer: { name: "ca" } } }, ["dockyard:ingress = {\"controllerNamespace\":\"ingress\",\"issuer\":{\"name\":\"ca\"}}: not with dockyard:gateway"]],
    ["the stack's own Gateway without an issuer", { ...routed, gateway: { gatewayClassName: "edge" } }, ["dockyard:gateway.issuer = (unset): a cert-manager issuer { name, kind? } (required)"]],
    ["an unknown issuer kind", { ...routed, gateway: { ...ownGateway, issuer: { name: "ca", kind: "Vault" } } }, ['dockyard:gateway.issuer.kind = "Vault": one of "ClusterIssuer", "Issuer"']],
    ["a namespace for the stack's own Gateway", { ...routed, gateway: { ...ownGateway, namespace: "infra" } }, ['dockyard:gateway.namespace = "infra": unset when the stack makes its Gateway']],
    ["an existing Gateway without a name", { ...routed, gateway: { namespace: "infra" } }, ["dockyard:gateway.name = (unset): the name of an existing Gateway, or set gatewayClassName"]],
    ["plain HTTP on the stack's own Gateway", withApp(routed, "server", { route: { hosts: ["shop.example.com"], tls: false } }), ["dockyard:apps.server.route.tls = false: not on the stack's own Gateway"]],
    ["a NetworkPolicy peer with neither field", withApp(kube, "server", { networkPolicy: { allowFrom: [{}] } }), ["dockyard:apps.server.networkPolicy.allowFrom.0 = {}: { namespace?, podLabels? } with at least one of them, or { cidr }"]],
    [
        "an address instead of a block, and a block beside a namespace",
        withApp(kube, "server", { networkPolicy: { allowFrom: [{ cidr: "10.217.0.2/24" }, { cidr: "10.0.0.0/8", namespace: "batch" }] } }),
        [
            'dockyard:apps.server.networkPolicy.allowFrom.0.cidr = "10.217.0.2/24": an IPv4 or IPv6 CIDR block with its host bits zero, e.g. 10.0.0.0/24',
            'dockyard:apps.server.networkPolicy.allowFrom.1 = {"namespace":"batch","cidr":"10.0.0.0/8"}: a cidr alone: a block of addresses does not combine with namespace or podLabels',
        ],
    ],
    ["a scrape peer without metrics", withApp(kube, "server", { networkPolicy: { scrapeFrom: [{ namespace: "monitoring" }] } }), ['dockyard:apps.server.networkPolicy.scrapeFrom = [{"namespace":"monitoring"}]: unset without metrics']],
    [
        // Every value is checked even when its app also has an unknown or misplaced key.
        "values beside an unknown key and a misplaced key",
        { ...withApp(withApp(docker, "hello", { kind: "job", prot: 1 }), "server", { port: 99999, hostPort: 8080, replicas: 2 }), hostIp: "not-an-ip" },
        ["dockyard:apps.hello.prot: unknown key", 'dockyard:apps.server.replicas = 2: not used when target is "docker"', "dockyard:apps.server.port = 99999", 'dockyard:hostIp = "not-an-ip"'],
    ],
    [
        "several problems across apps",
        withApp(withApp(docker, "server", { port: 0, hostPort: 99999 }), "hello", { kind: "job", port: 1 }),
        ["dockyard:apps.server.port = 0", "dockyard:apps.server.hostPort = 99999", "dockyard:apps.hello.port = 1"],
    ],
];

describe("stack config errors", () => {
    before(() => useMocks());
    beforeEach(() => {
        resetRegistrations();
        // Config is process-wide: start each case with none, so no earlier spec's secrets leak in.
        pulumi.runtime.setAllConfig({}, []);
    });

    for (const [label, raw, fragments] of cases) {
        it(`rejects ${label}`, async () => {
            let error: unknown;
            try {
                parseStackConfig(raw);
            } catch (e) {
                error = e;
            }
            assert.ok(error instanceof StackConfigError, `expected StackConfigError, got ${error}`);
            for (const fragment of fragments) assert.ok(error.message.includes(fragment), `missing «${fragment}» in:\n${error.message}`);
            assert.equal(error.problems.length, fragments.length, error.message);
            await settle();
            assert.equal(allRegistrations().length, 0);
        });
    }

    it("gives an app's request-rate autoscaler the metric the stack's custom metrics pipeline names", () => {
        const plan = parseStackConfig({
            ...withApp(kube, "server", { metrics: { port: 9102 }, autoscale: { minReplicas: 2, maxReplicas: 4, requestsPerSecond: 50 } }),
            customMetrics: { requestsPerSecond: "app_requests_per_second" },
        });
        assert.deepEqual(plan.apps.find((a) => a.name === "server")!.args.kubernetes!.autoscale, {
            minReplicas: 2,
            maxReplicas: 4,
            requestsPerSecond: 50,
            requestsPerSecondMetric: "app_requests_per_second",
        });
    });

    it("accepts both base configs", () => {
        assert.equal(parseStackConfig(docker).apps.length, 2);
        assert.equal(parseStackConfig(kube).apps.length, 2);
        const plan = parseStackConfig(routed);
        assert.deepEqual(plan.gateway, { objectName: "dockyard", gatewayClassName: "edge", hosts: ["shop.example.com"], issuer: { name: "ca" }, httpRedirect: undefined, readyTimeoutSeconds: undefined });
        assert.deepEqual(plan.apps.find((a) => a.name === "server")!.args.kubernetes!.route, {
            hosts: ["shop.example.com"],
            path: undefined,
            tls: {},
            gateway: { name: "dockyard", namespace: "shop", sectionName: "https" },
        });
        const existing = parseStackConfig({ ...routed, gateway: { name: "shared", namespace: "infra", sectionName: "web" } });
        assert.equal(existing.gateway, undefined);
        assert.deepEqual(existing.apps.find((a) => a.name === "server")!.args.kubernetes!.route!.gateway, { name: "shared", namespace: "infra", sectionName: "web" });
        const ingress = parseStackConfig({ ...kube, apps: (routed as { apps: Raw }).apps, ingress: { className: "nginx", controllerNamespace: "ingress", issuer: { name: "ca" } } });
        assert.deepEqual(ingress.apps.find((a) => a.name === "server")!.args.kubernetes!.route, {
            hosts: ["shop.example.com"],
            path: undefined,
            tls: { issuer: { name: "ca" } },
            ingress: { className: "nginx", controllerNamespace: "ingress" },
        });
    });

    it("refuses a registry password stored in plain text", () => {
        pulumi.runtime.setAllConfig({ "dockyard:registryPassword": "hunter2" }, []);
        assert.throws(() => parseStackConfig({ ...kube, registry: { server: "registry.example.com" }, ...readRawConfig() }), /dockyard:registryPassword: must be a secret/);
        pulumi.runtime.setAllConfig({ "dockyard:registryPassword": "hunter2" }, ["dockyard:registryPassword"]);
        assert.equal(parseStackConfig({ ...kube, registry: { server: "registry.example.com" }, ...readRawConfig() }).apps.length, 2);
    });

    it("is a RunError, which the CLI prints as the message alone", () => {
        assert.throws(() => parseStackConfig({ target: "docker" }), (e: Error) => pulumi.RunError.isInstance(e));
    });

    it("stops the real program before it registers anything", async () => {
        const program = runProgram("bad", { "dockyard:target": "docker", "dockyard:apps": JSON.stringify({ server: { port: 0 } }) });
        await assert.rejects(program, /invalid stack config \(1 problem\):\n {2}- dockyard:apps\.server\.port = 0: an integer from 1 to 65535/);
        await settle();
        assert.deepEqual(allRegistrations(), []);
    });
});
