// Bad arguments: one error naming every problem, thrown before anything is registered.
import { strict as assert } from "assert";
import { DockerWorkload, type DockerWorkloadArgs } from "../../components/dockerWorkload";
import { GoApp, type GoAppArgs } from "../../components/goApp";
import { GoAppImage, type GoAppImageArgs } from "../../components/goAppImage";
import { InvalidArgsError } from "../../components/internal/problems";
import { KubernetesWorkload, type KubernetesWorkloadArgs } from "../../components/kubernetesWorkload";
import { allRegistrations, resetRegistrations, settle, useMocks } from "../support/mocks";

const REF = "dockyard/server:sha-0123456789abcdef0123";
const DIGEST_REF = `registry.example.com/server@sha256:${"c".repeat(64)}`;
const server: GoAppArgs = { appDir: "apps/server", target: "docker" };
const onK8s: GoAppArgs = { appDir: "apps/server", target: "kubernetes" };

const goAppCases: [string, GoAppArgs, string[]][] = [
    ["a missing app directory", { ...server, appDir: "apps/nope" }, ['appDir = "apps/nope": an existing directory']],
    ["a directory with no Dockerfile", { ...server, appDir: "components" }, ['image.dockerfile = "Dockerfile": a file inside appDir; components/Dockerfile does not exist']],
    ["a port out of range", { ...server, port: 70000 }, ["port = 70000: an integer from 1 to 65535"]],
    ["port zero", { ...server, port: 0 }, ["port = 0: an integer from 1 to 65535"]],
    ["a fractional port", { ...server, port: 80.5 }, ["port = 80.5: an integer from 1 to 65535"]],
    ["negative replicas", { ...onK8s, kubernetes: { replicas: -1 } }, ["kubernetes.replicas = -1: an integer from 0 to 1000"]],
    ["a job with a port", { ...server, kind: "job", port: 8080 }, ["port = 8080: nothing: a job publishes no port and has no health check"]],
    ["a job with a port on Kubernetes", { ...onK8s, kind: "job", port: 8080 }, ["port = 8080: nothing: a job serves no port"]],
    ["an unknown target", { ...server, target: "nomad" as never }, ['target = "nomad": one of "docker", "kubernetes"']],
    ["no target", { appDir: "apps/server" } as GoAppArgs, ['target = (unset): one of "docker", "kubernetes"']],
    ["an unknown kind", { ...server, kind: "cron" as never }, ['kind = "cron": one of "service", "job"']],
    ["a CPU limit that does not parse", { ...onK8s, kubernetes: { limits: { cpu: "lots" } } }, ['kubernetes.limits.cpu = "lots": a positive CPU quantity such as "500m" or "0.5"']],
    ["a negative memory request", { ...onK8s, kubernetes: { requests: { memory: "-1Mi" } } }, ['kubernetes.requests.memory = "-1Mi": a positive memory quantity']],
    ["a Docker memory limit that does not parse", { ...server, docker: { limits: { memory: "1 GB" } } }, ['docker.limits.memory = "1 GB": a positive memory quantity']],
    ["Docker settings on a Kubernetes app", { ...onK8s, docker: { hostPort: 8080 } }, ['docker = {"hostPort":8080}: unset when target is "kubernetes"']],
    ["Kubernetes settings on a Docker app", { ...server, kubernetes: { replicas: 2 } }, ['kubernetes = {"replicas":2}: unset when target is "docker"']],
    ["a host port out of range", { ...server, docker: { hostPort: 99999 } }, ["docker.hostPort = 99999: an integer from 1 to 65535"]],
    ["an invalid env name", { ...server, env: { "1BAD": "x" } }, ['env.1BAD = "1BAD": a variable name of letters, digits and underscores']],
    ["PORT in env", { ...server, env: { PORT: "9090" } }, ['env.PORT = "9090": unset: PORT is taken from port']],
    ["a selector label override", { ...onK8s, kubernetes: { labels: { "app.kubernetes.io/name": "x" } } }, ['kubernetes.labels.app.kubernetes.io/name = "x": unset: selector labels']],
    ["an unknown service type", { ...onK8s, kubernetes: { serviceType: "External" as never } }, ['kubernetes.serviceType = "External": one of "ClusterIP", "NodePort", "LoadBalancer"']],
    ["a platform without an OS", { ...server, image: { platform: "amd64" } }, ['image.platform = "amd64": os/arch[/variant]']],
    ["a registry given as a URL", { ...onK8s, image: { registry: { server: "https://ghcr.io" } } }, ['image.registry.server = "https://ghcr.io": a registry host with optional port']],
    ["an uppercase repository", { ...server, image: { repository: "Acme/Server" } }, ['image.repository = "Acme/Server": a lowercase image repository']],
    ["a bad namespace", { ...onK8s, kubernetes: { namespace: "Prod_NS" } }, ['kubernetes.namespace = "Prod_NS": a DNS label']],
    ["replicas beside autoscale", { ...onK8s, kubernetes: { replicas: 3, autoscale: { minReplicas: 2, maxReplicas: 4, cpuUtilization: 50 } } }, ["kubernetes.replicas = 3: unset when autoscale is given: the autoscaler owns the replica count"]],
    ["an autoscale range upside down", { ...onK8s, kubernetes: { autoscale: { minReplicas: 5, maxReplicas: 2, cpuUtilization: 50 } } }, ["kubernetes.autoscale.maxReplicas = 2: at least autoscale.minReplicas (5)"]],
    [
        "an autoscale without its target",
        { ...onK8s, kubernetes: { autoscale: { minReplicas: 2, maxReplicas: 4 } } },
        ["kubernetes.autoscale.cpuUtilization = (unset): an integer from 1 to 1000, or autoscale.requestsPerSecond: the autoscaler needs a metric to follow"],
    ],
    [
        "a request rate without metrics to make it of",
        { ...onK8s, kubernetes: { autoscale: { minReplicas: 2, maxReplicas: 4, requestsPerSecond: 50 } } },
        ["kubernetes.autoscale.requestsPerSecond = 50: only with `metrics`: the request rate is made of the counter the pods serve there"],
    ],
    [
        "a request rate of zero",
        { ...onK8s, metrics: { port: 9102 }, kubernetes: { autoscale: { minReplicas: 2, maxReplicas: 4, requestsPerSecond: 0 } } },
        ["kubernetes.autoscale.requestsPerSecond = 0: a number of requests per second per pod, from 0.001 to 1000000"],
    ],
    [
        "a request-rate metric without a request rate",
        { ...onK8s, kubernetes: { autoscale: { minReplicas: 2, maxReplicas: 4, cpuUtilization: 50, requestsPerSecondMetric: "rps" } } },
        ['kubernetes.autoscale.requestsPerSecondMetric = "rps": only with autoscale.requestsPerSecond'],
    ],
    [
        "a request-rate metric that is no metric name",
        { ...onK8s, metrics: { port: 9102 }, kubernetes: { autoscale: { minReplicas: 2, maxReplicas: 4, requestsPerSecond: 5, requestsPerSecondMetric: "requests/s" } } },
        ['kubernetes.autoscale.requestsPerSecondMetric = "requests/s": a metric name'],
    ],
    ["an autoscale of zero pods", { ...onK8s, kubernetes: { autoscale: { minReplicas: 0, maxReplicas: 4, cpuUtilization: 50 } } }, ["kubernetes.autoscale.minReplicas = 0: an integer from 1 to 1000"]],
    ["an autoscaled job", { ...onK8s, kind: "job", kubernetes: { autoscale: { minReplicas: 1, maxReplicas: 2, cpuUtilization: 50 } } }, ['kubernetes.autoscale = {"minReplicas":1,"maxReplicas":2,"cpuUtilization":50}: nothing: a job runs one pod to completion']],
    ["a misspelt autoscale key", { ...onK8s, kubernetes: { autoscale: { minReplicas: 1, maxReplicas: 2, cpuUtilization: 50, cpu: 50 } as never } }, ["kubernetes.autoscale.cpu = 50: nothing: not an autoscale setting"]],
    ["a negative node-loss toleration", { ...onK8s, kubernetes: { nodeLossTolerationSeconds: -1 } }, ["kubernetes.nodeLossTolerationSeconds = -1: an integer from 0 to 86400"]],
    ["job-only settings on a service", { ...onK8s, kubernetes: { backoffLimit: 3 } }, ["kubernetes.backoffLimit = 3: nothing: only a job takes it"]],
    ["a relative probe path", { ...onK8s, kubernetes: { readinessPath: "readyz" } }, ['kubernetes.readinessPath = "readyz": an absolute HTTP path']],
    ["a health wait without a health check", { ...server, appDir: "test/fixtures/greeter", docker: { waitForHealthy: true } }, ["docker.waitForHealthy = true: true only with a health check: set healthcheck, or imageHealthcheck: true"]],
    ["a health check without a command", { ...server, docker: { healthcheck: { command: [] } } }, ["docker.healthcheck.command = []: a non-empty list of non-empty strings"]],
    ["a health check with a shell string", { ...server, docker: { healthcheck: { command: "curl -f localhost" as never, intervalSeconds: 0 } } }, ['docker.healthcheck.command = "curl -f localhost"', "docker.healthcheck.intervalSeconds = 0: an integer from 1 to 3600"]],
    ["a misspelt health check key", { ...server, docker: { healthcheck: { command: ["/x"], interval: "5s" } as never } }, ['docker.healthcheck.interval = "5s": one of command, intervalSeconds']],
    ["a health check on a job", { ...server, kind: "job", docker: { healthcheck: { command: ["/x"] } } }, ['docker.healthcheck = {"command":["/x"]}: nothing: a job publishes no port and has no health check']],
    ["a build target the Dockerfile does not name", { ...server, image: { target: "debug" } }, ['image.target = "debug": a stage apps/server/Dockerfile names: build']],
    ["root as the pod user", { ...onK8s, kubernetes: { runAsUser: 0 } }, ["kubernetes.runAsUser = 0: an integer from 1 to 2147483647"]],
    ["a prebuilt image by tag", { ...onK8s, image: { ref: "ghcr.io/acme/server:v1" } }, ['image.ref = "ghcr.io/acme/server:v1": an image reference by digest, repository@sha256:<64 hex digits>']],
    ["a registry URL beside a prebuilt image", { ...onK8s, image: { ref: DIGEST_REF, registry: { server: "https://ghcr.io" } } }, ['image.registry.server = "https://ghcr.io": a registry host with optional port']],
    ["build settings beside a prebuilt image", { ...onK8s, image: { ref: DIGEST_REF, goImage: "golang:1.26" } }, ['image.goImage = "golang:1.26": unset when image.ref is given: nothing is built']],
    ["a pull secret that is not a name", { ...onK8s, kubernetes: { imagePullSecrets: ["Pull_Secret"] } }, ['kubernetes.imagePullSecrets.0 = "Pull_Secret": the name of a Secret in the namespace']],
    ["a disruption budget on a job", { ...onK8s, kind: "job", kubernetes: { podDisruptionBudget: { maxUnavailable: 1 } } }, ['kubernetes.podDisruptionBudget = {"maxUnavailable":1}: nothing: a job']],
    ["a disruption budget of half", { ...onK8s, kubernetes: { podDisruptionBudget: { maxUnavailable: "half" } } }, ['kubernetes.podDisruptionBudget.maxUnavailable = "half": a count (0 or more) or a percentage']],
    ["a ready timeout of zero", { ...onK8s, kubernetes: { readyTimeoutSeconds: 0 } }, ["kubernetes.readyTimeoutSeconds = 0: an integer from 1 to 86400"]],
    [
        "several problems at once",
        { ...server, port: -1, kind: "daemon" as never, docker: { hostPort: 0, healthTimeoutSeconds: 0 } },
        ["port = -1", 'kind = "daemon"', "docker.hostPort = 0", "docker.healthTimeoutSeconds = 0"],
    ],
];

function expectRejected(construct: () => unknown, component: string, fragments: string[]) {
    let error: unknown;
    try {
        construct();
    } catch (e) {
        error = e;
    }
    assert.ok(error instanceof InvalidArgsError, `expected InvalidArgsError, got ${error}`);
    assert.ok(error.message.startsWith(`invalid arguments for ${component}:\n`), error.message);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `missing «${fragment}» in:\n${error.message}`);
    assert.equal(error.problems.length, fragments.length, error.message);
}

describe("argument validation", () => {
    before(() => useMocks());
    beforeEach(resetRegistrations);
    afterEach(async function () {
        await settle();
        assert.deepEqual(allRegistrations().map((r) => `${r.type} ${r.name}`), [], "nothing may be registered when arguments are bad");
    });

    describe("GoApp", () => {
        for (const [label, args, fragments] of goAppCases) {
            it(`rejects ${label}`, () => expectRejected(() => new GoApp("app", args), 'GoApp "app"', fragments));
        }
    });

    describe("the components alone", () => {
        it("DockerWorkload rejects a floating image", () =>
            expectRejected(() => new DockerWorkload("w", { image: "nginx:latest" } as DockerWorkloadArgs), 'DockerWorkload "w"', ['image = "nginx:latest": a digest (repo@sha256:…) or an explicit content tag, never latest or untagged']));
        it("DockerWorkload rejects a network given twice", () =>
            expectRejected(() => new DockerWorkload("w", { image: REF, createNetwork: true, networkName: "shared" }), 'DockerWorkload "w"', ['networkName = "shared": unset when createNetwork is true']));
        it("KubernetesWorkload rejects an untagged image", () =>
            expectRejected(() => new KubernetesWorkload("k", { image: "ghcr.io/acme/server" } as KubernetesWorkloadArgs), 'KubernetesWorkload "k"', ['image = "ghcr.io/acme/server"']));
        it("KubernetesWorkload rejects an empty image", () =>
            expectRejected(() => new KubernetesWorkload("k", { image: "" }), 'KubernetesWorkload "k"', ['image = "": an image reference by digest']));
        it("GoAppImage rejects a bad build arg name", () =>
            expectRejected(() => new GoAppImage("i", { appDir: "apps/server", buildArgs: { "BAD-NAME": "x" } } as GoAppImageArgs), 'GoAppImage "i"', ['buildArgs.BAD-NAME = "x"']));
    });
});
