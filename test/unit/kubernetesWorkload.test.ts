import * as k8s from "@pulumi/kubernetes";
import { strict as assert } from "assert";
import { KubernetesWorkload } from "../../components/kubernetesWorkload";
import { known, optionsRecorder, registered, resetRegistrations, typeChain, useMocks } from "../support/mocks";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const JOB = "kubernetes:batch/v1:Job";
const DIGEST_REF = `registry.local/server@sha256:${"b".repeat(64)}`;

describe("KubernetesWorkload", () => {
    before(() => useMocks());
    beforeEach(resetRegistrations);

    describe("a service", () => {
        let w: KubernetesWorkload;
        let deployment: Record<string, any>;
        let service: Record<string, any>;

        beforeEach(async () => {
            w = new KubernetesWorkload("web", { image: DIGEST_REF, appName: "server" });
            await Promise.all([known(w.deployment!.urn), known(w.service!.urn)]);
            deployment = registered(DEPLOYMENT, "web-deployment").inputs;
            service = registered(SERVICE, "web-service").inputs;
        });

        it("shares one label set between Deployment selector, pod template and Service selector", () => {
            const labels = { "app.kubernetes.io/name": "server", "app.kubernetes.io/instance": "web" };
            assert.deepEqual(w.selectorLabels, labels);
            assert.deepEqual(deployment.spec.selector.matchLabels, labels);
            assert.deepEqual(deployment.spec.template.metadata.labels, labels);
            assert.deepEqual(service.spec.selector, labels);
            assert.deepEqual(deployment.metadata.labels, {
                "app.kubernetes.io/managed-by": "pulumi",
                "app.kubernetes.io/part-of": "dockyard",
                "app.kubernetes.io/component": "service",
                ...labels,
            });
        });

        it("runs the image by digest with probes on the app's endpoints", () => {
            const [c] = deployment.spec.template.spec.containers;
            assert.equal(c.name, "server");
            assert.equal(c.image, DIGEST_REF);
            assert.deepEqual(c.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
            assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "http" });
            assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "http" });
            assert.deepEqual(c.env, [
                { name: "PORT", value: "8080" },
                { name: "SHUTDOWN_TIMEOUT", value: "10s" },
            ]);
            assert.deepEqual(c.resources, { requests: { cpu: "50m", memory: "32Mi" }, limits: { cpu: "500m", memory: "128Mi" } });
        });

        it("drains before SIGTERM and leaves the app its shutdown time", () => {
            const pod = deployment.spec.template.spec;
            assert.deepEqual(pod.containers[0].lifecycle, { preStop: { sleep: { seconds: 5 } } });
            assert.equal(pod.terminationGracePeriodSeconds, 5 + 10 + 5);
            assert.deepEqual(deployment.spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
            assert.equal(deployment.spec.replicas, 1);
        });

        it("meets Pod Security restricted, with a read-only root and no token", () => {
            const pod = deployment.spec.template.spec;
            assert.equal(pod.automountServiceAccountToken, false);
            assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } });
            assert.deepEqual(pod.containers[0].securityContext, {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
            });
        });

        it("publishes the port on a ClusterIP Service and reports its in-cluster address", async () => {
            assert.equal(service.spec.type, "ClusterIP");
            assert.deepEqual(service.spec.ports, [{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);
            const name = await known(w.service!.metadata.name);
            assert.equal(await known(w.address), `${name}.default.svc.cluster.local:8080`);
        });

        it("parents its objects to itself", async () => {
            assert.deepEqual(await typeChain(w.deployment!), ["dockyard:kubernetes:KubernetesWorkload", DEPLOYMENT]);
            assert.deepEqual(await typeChain(w.service!), ["dockyard:kubernetes:KubernetesWorkload", SERVICE]);
        });
    });

    it("takes namespace, replicas, service type and port, probes and resources", async () => {
        const w = new KubernetesWorkload("tuned", {
            image: DIGEST_REF,
            namespace: "shop",
            replicas: 3,
            port: 9090,
            servicePort: 80,
            serviceType: "LoadBalancer",
            readinessPath: "/ready",
            livenessPath: "/alive",
            requests: { cpu: "100m" },
            limits: { memory: "256Mi" },
            preStopSleepSeconds: 10,
            shutdownTimeoutSeconds: 20,
            env: { LOG_LEVEL: "info" },
            labels: { team: "edge" },
            annotations: { "example.com/owner": "edge" },
        });
        assert.equal(await known(w.address), `${await known(w.service!.metadata.name)}.shop.svc.cluster.local:80`);
        const d = registered(DEPLOYMENT, "tuned-deployment").inputs;
        const s = registered(SERVICE, "tuned-service").inputs;
        const [c] = d.spec.template.spec.containers;
        assert.equal(d.metadata.namespace, "shop");
        assert.equal(s.metadata.namespace, "shop");
        assert.equal(d.spec.replicas, 3);
        assert.equal(s.spec.type, "LoadBalancer");
        assert.deepEqual(s.spec.ports, [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
        assert.equal(c.readinessProbe.httpGet.path, "/ready");
        assert.equal(c.livenessProbe.httpGet.path, "/alive");
        assert.deepEqual(c.resources, { requests: { cpu: "100m", memory: "32Mi" }, limits: { cpu: "500m", memory: "256Mi" } });
        assert.equal(d.spec.template.spec.terminationGracePeriodSeconds, 10 + 20 + 5);
        assert.deepEqual(c.env.at(-1), { name: "LOG_LEVEL", value: "info" });
        assert.equal(d.metadata.labels.team, "edge");
        assert.deepEqual(d.spec.template.metadata.annotations, { "example.com/owner": "edge" });
    });

    it("runs a job once: backoff limit, TTL, never restarted, replaced whole on change", async () => {
        const rec = optionsRecorder();
        const w = new KubernetesWorkload("batch", { image: DIGEST_REF, appName: "hello", kind: "job" }, { transformations: rec.transformations });
        assert.equal(await known(w.jobName), await known(w.job!.metadata.name));
        const job = registered(JOB, "batch-job").inputs;
        assert.equal(job.spec.backoffLimit, 2);
        assert.equal(job.spec.ttlSecondsAfterFinished, 3600);
        assert.equal(job.spec.activeDeadlineSeconds, 600);
        const pod = job.spec.template.spec;
        assert.equal(pod.restartPolicy, "Never");
        assert.equal(pod.containers[0].ports, undefined);
        assert.equal(pod.containers[0].readinessProbe, undefined);
        assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
        assert.equal(job.metadata.labels["app.kubernetes.io/component"], "job");
        assert.equal(rec.options.get("batch-job")?.deleteBeforeReplace, true);
        assert.deepEqual(rec.options.get("batch-job")?.replaceOnChanges, ["spec"]);
        assert.equal(w.deployment, undefined);
        assert.equal(w.service, undefined);
    });

    it("uses an explicit provider for every object", async () => {
        const provider = new k8s.Provider("cluster", { namespace: "shop" });
        const w = new KubernetesWorkload("scoped", { image: DIGEST_REF, provider });
        await Promise.all([known(w.deployment!.urn), known(w.service!.urn)]);
        const providerUrn = await known(provider.urn);
        assert.ok(registered(DEPLOYMENT, "scoped-deployment").provider?.startsWith(providerUrn));
        assert.ok(registered(SERVICE, "scoped-service").provider?.startsWith(providerUrn));
    });

    it("deletes before replacing when names are fixed", async () => {
        const rec = optionsRecorder();
        const w = new KubernetesWorkload("stable", { image: DIGEST_REF, objectName: "server" }, { transformations: rec.transformations });
        assert.equal(await known(w.address), "server.default.svc.cluster.local:8080");
        assert.equal(rec.options.get("stable-deployment")?.deleteBeforeReplace, true);
        assert.equal(rec.options.get("stable-service")?.deleteBeforeReplace, true);
    });
});
