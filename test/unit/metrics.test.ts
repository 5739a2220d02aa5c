// `metrics` on the workloads: where an app's Prometheus metrics are served and how a Prometheus finds them,
// on Kubernetes (a named port, a Service port, scrape annotations or a ServiceMonitor) and on Docker (a port on
// loopback and its URL), and every bad value refused by field before anything is registered.
import { strict as assert } from "assert";
import { DockerWorkload, validateDockerWorkloadArgs } from "../../components/dockerWorkload";
import { GoApp } from "../../components/goApp";
import { KubernetesWorkload, kubernetesWorkloadObjects, validateKubernetesWorkloadArgs } from "../../components/kubernetesWorkload";
import { known, ofType, registered, resetRegistrations, useMocks } from "../support/mocks";

const DIGEST_REF = `registry.local/server@sha256:${"c".repeat(64)}`;
const LOCAL_REF = "dockyard/server:sha-0123456789abcdef0123";

describe("metrics", () => {
    before(() => useMocks());
    beforeEach(resetRegistrations);

    describe("on Kubernetes", () => {
        async function workload(metrics: Record<string, unknown>) {
            const w = new KubernetesWorkload("web", { image: DIGEST_REF, appName: "server", metrics: metrics as never });
            await Promise.all([known(w.deployment!.urn), known(w.service!.urn)]);
            return { w, deployment: registered("kubernetes:apps/v1:Deployment", "web-deployment").inputs, service: registered("kubernetes:core/v1:Service", "web-service").inputs };
        }

        it("names the container port, gives the Service a metrics port, passes METRICS_PORT, and annotates the pods for scraping", async () => {
            const { w, deployment, service } = await workload({ port: 9102 });
            const [c] = deployment.spec.template.spec.containers;
            assert.deepEqual(c.ports, [
                { name: "http", containerPort: 8080, protocol: "TCP" },
                { name: "metrics", containerPort: 9102, protocol: "TCP" },
            ]);
            assert.deepEqual(c.env.find((e: { name: string }) => e.name === "METRICS_PORT"), { name: "METRICS_PORT", value: "9102" });
            assert.deepEqual(service.spec.ports, [
                { name: "http", port: 8080, targetPort: "http", protocol: "TCP" },
                { name: "metrics", port: 9102, targetPort: "metrics", protocol: "TCP" },
            ]);
            assert.deepEqual(deployment.spec.template.metadata.annotations, { "prometheus.io/scrape": "true", "prometheus.io/port": "9102", "prometheus.io/path": "/metrics" });
            assert.equal(await known(w.metricsAddress!), "server.default.svc.cluster.local:9102/metrics");
            assert.equal(ofType("kubernetes:monitoring.coreos.com/v1:ServiceMonitor").length, 0);
        });

        it("makes a ServiceMonitor for the metrics port instead when asked, and leaves the pods unannotated", async () => {
            const { deployment } = await workload({ port: 9300, path: "/stats", scrape: "serviceMonitor" });
            assert.equal(deployment.spec.template.metadata.annotations, undefined);
            const monitor = registered("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "web-servicemonitor").inputs;
            assert.equal(monitor.metadata.name, "server");
            assert.deepEqual(monitor.spec, { selector: { matchLabels: { "app.kubernetes.io/name": "server", "app.kubernetes.io/instance": "web" } }, endpoints: [{ port: "metrics", path: "/stats" }] });
            assert.deepEqual(
                kubernetesWorkloadObjects("web", { appName: "server", metrics: { port: 9300, scrape: "serviceMonitor" } }).map((o) => `${o.apiVersion} ${o.kind}`),
                ["v1 ServiceAccount", "apps/v1 Deployment", "v1 Service", "monitoring.coreos.com/v1 ServiceMonitor", "networking.k8s.io/v1 NetworkPolicy"],
            );
        });

        it("adds nothing without metrics: no port, no annotation, no METRICS_PORT", async () => {
            const w = new KubernetesWorkload("plain", { image: DIGEST_REF, appName: "plain" });
            await known(w.deployment!.urn);
            const d = registered("kubernetes:apps/v1:Deployment", "plain-deployment").inputs;
            assert.equal(d.spec.template.metadata.annotations, undefined);
            assert.deepEqual(d.spec.template.spec.containers[0].ports.map((p: { name: string }) => p.name), ["http"]);
            assert.equal(w.metricsAddress, undefined);
        });
    });

    describe("on Docker", () => {
        it("publishes the metrics port on the host IP beside the app's, passes METRICS_PORT, and gives its URL", async () => {
            const w = new DockerWorkload("web", { image: LOCAL_REF, hostPort: 8080, metrics: { port: 9102 } });
            await known(w.container.urn);
            const c = registered("docker:index/container:Container", "web-container").inputs;
            assert.deepEqual(c.ports, [
                { internal: 8080, external: 8080, ip: "127.0.0.1", protocol: "tcp" },
                { internal: 9102, ip: "127.0.0.1", protocol: "tcp" },
            ]);
            assert.deepEqual(c.envs, ["PORT=8080", "METRICS_PORT=9102"]);
            assert.match(await known(w.metricsUrl!), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
        });

        it("GoApp gives the metrics URL as metricsEndpoint", async () => {
            const app = new GoApp("srv", { target: "docker", port: 8080, metrics: { port: 9102, path: "/m" }, image: { ref: DIGEST_REF }, docker: { imageHealthcheck: true } });
            assert.match(await known(app.metricsEndpoint!), /^http:\/\/127\.0\.0\.1:\d+\/m$/);
        });
    });

    describe("refused by field, before anything is registered", () => {
        const cases: [string, Record<string, unknown>, RegExp][] = [
            ["a port out of range", { metrics: { port: 70000 } }, /metrics\.port = 70000: an integer from 1 to 65535/],
            ["the service's own port", { port: 8080, metrics: { port: 8080 } }, /metrics\.port = 8080: a port of its own, not the service's port \(8080\)/],
            ["a relative path", { metrics: { port: 9102, path: "metrics" } }, /metrics\.path = "metrics": an absolute HTTP path/],
            ["an unknown way to scrape", { metrics: { port: 9102, scrape: "pushgateway" } }, /metrics\.scrape = "pushgateway": one of "annotations", "serviceMonitor"/],
            ["a key it does not know", { metrics: { port: 9102, interval: "5s" } }, /metrics\.interval = "5s": only port, path and scrape/],
            ["METRICS_PORT set by hand", { env: { METRICS_PORT: "1" }, metrics: { port: 9102 } }, /env\.METRICS_PORT = "1": unset: it is taken from metrics\.port/],
            ["metrics on a job", { kind: "job", metrics: { port: 9102 } }, /metrics = \{"port":9102\}: nothing: a job serves no port/],
        ];
        for (const [title, args, message] of cases) {
            it(`Kubernetes: ${title}`, () => {
                assert.throws(() => new KubernetesWorkload("bad", { image: DIGEST_REF, ...args }), message);
                assert.equal(ofType("kubernetes:apps/v1:Deployment").length + ofType("kubernetes:batch/v1:Job").length, 0);
                assert.ok(validateKubernetesWorkloadArgs({ image: DIGEST_REF, ...args }).length > 0);
            });
        }
        it("Docker: a scrape setting, which only Kubernetes has", () => {
            const problems = validateDockerWorkloadArgs({ image: LOCAL_REF, metrics: { port: 9102, scrape: "annotations" } });
            assert.deepEqual(problems.map((p) => p.field), ["metrics.scrape"]);
            assert.match(problems[0].allowed, /unset on Docker/);
        });
    });
});
