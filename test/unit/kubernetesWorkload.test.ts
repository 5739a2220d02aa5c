import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { strict as assert } from "assert";
import { KubernetesWorkload, jobRun, jobRunCompleted } from "../../components/kubernetesWorkload";
import { notReadyMessage } from "../../components/podSpec";
import { isSecretInput, known, ofType, optionsRecorder, registered, resetRegistrations, settle, typeChain, unwrap, useMocks } from "../support/mocks";

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

        it("runs the image by digest, probed over TCP on its port: any app that listens passes", () => {
            const [c] = deployment.spec.template.spec.containers;
            assert.equal(c.name, "server");
            assert.equal(c.image, DIGEST_REF);
            assert.deepEqual(c.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
            assert.deepEqual(c.readinessProbe, { tcpSocket: { port: "http" }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 });
            assert.deepEqual(c.livenessProbe, { tcpSocket: { port: "http" }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 });
            // The default 300 s to start, checked every 2 s, before liveness may restart the container.
            assert.deepEqual(c.startupProbe, { tcpSocket: { port: "http" }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 150 });
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
            readyTimeoutSeconds: 45,
            requests: { cpu: "100m" },
            limits: { memory: "256Mi" },
            preStopSleepSeconds: 10,
            shutdownTimeoutSeconds: 20,
            env: { LOG_LEVEL: "info" },
            labels: { team: "edge" },
            annotations: { "example.com/owner": "edge" },
        });
        assert.equal(await known(w.address), `${await known(w.service!.metadata.name)}.shop.svc.cluster.local:80`);
        await known(w.deployment!.urn);
        const d = registered(DEPLOYMENT, "tuned-deployment").inputs;
        const s = registered(SERVICE, "tuned-service").inputs;
        const [c] = d.spec.template.spec.containers;
        assert.equal(d.metadata.namespace, "shop");
        assert.equal(s.metadata.namespace, "shop");
        assert.equal(d.spec.replicas, 3);
        assert.equal(s.spec.type, "LoadBalancer");
        assert.deepEqual(s.spec.ports, [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
        assert.deepEqual(c.readinessProbe.httpGet, { path: "/ready", port: "http" }, "a path given makes an HTTP probe");
        assert.deepEqual(c.livenessProbe.httpGet, { path: "/alive", port: "http" });
        assert.equal(c.readinessProbe.tcpSocket, undefined);
        // The startup probe makes the liveness check, for as long as up waits: 45 s at 2 s a check.
        assert.deepEqual(c.startupProbe, { httpGet: { path: "/alive", port: "http" }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 23 });
        assert.deepEqual(c.ports, [{ name: "http", containerPort: 9090, protocol: "TCP" }]);
        assert.deepEqual(c.env[0], { name: "PORT", value: "9090" });
        assert.deepEqual(c.resources, { requests: { cpu: "100m", memory: "32Mi" }, limits: { cpu: "500m", memory: "256Mi" } });
        assert.equal(d.spec.template.spec.terminationGracePeriodSeconds, 10 + 20 + 5);
        assert.deepEqual(c.env.at(-1), { name: "LOG_LEVEL", value: "info" });
        assert.equal(d.metadata.labels.team, "edge");
        assert.deepEqual(d.spec.template.metadata.annotations, { "example.com/owner": "edge" });
    });

    it("runs a job once: backoff limit, no TTL, never restarted, replaced whole on change, its run recorded after it completed", async () => {
        const rec = optionsRecorder();
        const w = new KubernetesWorkload("batch", { image: DIGEST_REF, appName: "hello", kind: "job" }, { transformations: rec.transformations });
        assert.equal(await known(w.jobName), await known(w.job!.metadata.name));
        const job = registered(JOB, "batch-job").inputs;
        assert.equal(job.spec.backoffLimit, 2);
        // Kept until the next change replaces it: a collected Job would otherwise make the next refreshed up run it again.
        assert.equal(job.spec.ttlSecondsAfterFinished, undefined);
        // Bounded by the ready timeout, so `up` cannot wait on a Job longer than that.
        assert.equal(job.spec.activeDeadlineSeconds, 300);
        const pod = job.spec.template.spec;
        assert.equal(pod.restartPolicy, "Never");
        assert.equal(pod.containers[0].ports, undefined);
        assert.equal(pod.containers[0].readinessProbe, undefined);
        assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
        assert.equal(job.metadata.labels["app.kubernetes.io/component"], "job");
        assert.equal(rec.options.get("batch-job")?.deleteBeforeReplace, true);
        // What it runs and the settings its run counts by; not its TTL, which would otherwise run it again.
        assert.deepEqual(rec.options.get("batch-job")?.replaceOnChanges, ["spec.template", "spec.backoffLimit", "spec.activeDeadlineSeconds"]);
        assert.equal(w.deployment, undefined);
        assert.equal(w.service, undefined);
        // The run record: written once the Job completed (it depends on the Job), naming what ran.
        const record = registered("kubernetes:core/v1:ConfigMap", "batch-run").inputs;
        assert.equal(record.metadata.name, "hello-run");
        assert.deepEqual(record.data, { spec: jobRun({ image: DIGEST_REF, kind: "job" }).spec, image: DIGEST_REF, source: "" });
        assert.deepEqual(rec.options.get("batch-run")?.dependsOn, [w.job]);
    });

    it("makes no Job for a run that completed and was collected; keeps its record; takes a TTL", async () => {
        const rec = optionsRecorder();
        const w = new KubernetesWorkload("done", { image: DIGEST_REF, appName: "hello", kind: "job", runCompleted: true, ttlSecondsAfterFinished: 600 }, { transformations: rec.transformations });
        await known(w.runRecord!.urn);
        await settle();
        assert.equal(w.job, undefined);
        assert.deepEqual(ofType(JOB).filter((r) => r.name === "done-job"), []);
        assert.equal(registered("kubernetes:core/v1:ConfigMap", "done-run").inputs.data.image, DIGEST_REF);
        assert.equal(await known(w.jobName), "hello");
        const again = new KubernetesWorkload("ttl", { image: DIGEST_REF, kind: "job", ttlSecondsAfterFinished: 600 });
        await known(again.job!.urn);
        assert.equal(registered(JOB, "ttl-job").inputs.spec.ttlSecondsAfterFinished, 600);
    });

    describe("jobRunCompleted: whether a job's run is done, from what the cluster holds", () => {
        const STACK = "dockyard/staging";
        const run = jobRun({ image: DIGEST_REF, kind: "job", env: { MODE: "migrate" } });
        const record = (data: Record<string, string>, owner = STACK) => ({ metadata: { annotations: { "dockyard.dev/stack": owner } }, data });
        const done = record({ spec: run.spec, image: DIGEST_REF, source: "" });
        const cases: [string, Parameters<typeof jobRunCompleted>[0], Parameters<typeof jobRunCompleted>[1], boolean][] = [
            ["the Job collected, its record the same run: done", run, { record: done }, true],
            ["the Job still there: Pulumi keeps it as usual", run, { job: {}, record: done }, false],
            ["no record: never ran to completion", run, {}, false],
            ["a new image", jobRun({ image: `registry.local/server@sha256:${"c".repeat(64)}`, kind: "job", env: { MODE: "migrate" } }), { record: done }, false],
            ["another env value", jobRun({ image: DIGEST_REF, kind: "job", env: { MODE: "seed" } }), { record: done }, false],
            ["other args", jobRun({ image: DIGEST_REF, kind: "job", env: { MODE: "migrate" }, args: ["-v"] }), { record: done }, false],
            ["another limit", jobRun({ image: DIGEST_REF, kind: "job", env: { MODE: "migrate" }, limits: { memory: "1Gi" } }), { record: done }, false],
            ["another stack's record", run, { record: record({ spec: run.spec, image: DIGEST_REF, source: "" }, "dockyard/prod") }, false],
            ["this stack's record from before a move of organization", run, { record: record({ spec: run.spec, image: DIGEST_REF, source: "" }, `organization/${STACK}`) }, true],
        ];
        for (const [title, r, found, want] of cases) it(title, () => assert.equal(jobRunCompleted(r, found, STACK), want));

        it("a build in the same deploy, before its digest exists: matched by what it is built from", () => {
            const built = jobRun({ image: pulumi.output("unknown until built"), imageSource: "registry.local/hello:sha-1", kind: "job" });
            assert.equal(built.image, undefined);
            const recorded = record({ spec: built.spec, image: DIGEST_REF, source: "registry.local/hello:sha-1" });
            assert.equal(jobRunCompleted(built, { record: recorded }, STACK), true);
            assert.equal(jobRunCompleted({ ...built, source: "registry.local/hello:sha-2" }, { record: recorded }, STACK), false);
        });
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

describe("KubernetesWorkload on a real cluster's terms", () => {
    before(() => useMocks());
    beforeEach(resetRegistrations);

    const SECRET = "kubernetes:core/v1:Secret";
    const ACCOUNT = "kubernetes:core/v1:ServiceAccount";
    const PDB = "kubernetes:policy/v1:PodDisruptionBudget";

    async function deployed(w: KubernetesWorkload): Promise<Record<string, any>> {
        await known(w.deployment!.urn);
        return registered(DEPLOYMENT, `${w.selectorLabels["app.kubernetes.io/instance"]}-deployment`).inputs;
    }

    it("names every object after the app, and runs the pods under a ServiceAccount of their own without a token", async () => {
        const w = new KubernetesWorkload("web", { image: DIGEST_REF, appName: "server" });
        const d = await deployed(w);
        assert.equal(d.metadata.name, "server");
        assert.equal(registered(SERVICE, "web-service").inputs.metadata.name, "server");
        const account = registered(ACCOUNT, "web-service-account").inputs;
        assert.equal(account.metadata.name, "server");
        assert.equal(account.automountServiceAccountToken, false);
        assert.equal(d.spec.template.spec.serviceAccountName, "server");
        assert.equal(d.spec.template.spec.automountServiceAccountToken, false);
    });

    it("uses a named ServiceAccount and pull Secrets instead of making its own", async () => {
        const w = new KubernetesWorkload("web", { image: DIGEST_REF, serviceAccountName: "edge", imagePullSecrets: ["corp-pull"] });
        const d = await deployed(w);
        assert.equal(d.spec.template.spec.serviceAccountName, "edge");
        assert.deepEqual(d.spec.template.spec.imagePullSecrets, [{ name: "corp-pull" }]);
        assert.equal(w.serviceAccount, undefined);
        assert.equal(w.pullSecret, undefined);
    });

    it("makes a dockerconfigjson pull Secret from registry credentials, secret throughout, replaced when they change", async () => {
        const rec = optionsRecorder();
        const w = new KubernetesWorkload(
            "web",
            { image: DIGEST_REF, registryCredentials: { server: "registry.example.com", username: "ci", password: "hunter2" } },
            { transformations: rec.transformations },
        );
        const d = await deployed(w);
        const secret = registered(SECRET, "web-pull-secret").inputs;
        assert.equal(secret.type, "kubernetes.io/dockerconfigjson");
        assert.equal(secret.metadata.name, undefined, "auto-named, so new credentials make a new Secret and roll the pods");
        assert.ok(isSecretInput(secret.stringData), "the pull credentials must reach the engine as a secret");
        const doc = unwrap(secret.stringData)[".dockerconfigjson"];
        assert.deepEqual(JSON.parse(unwrap(doc)), {
            auths: { "registry.example.com": { username: "ci", password: "hunter2", auth: Buffer.from("ci:hunter2").toString("base64") } },
        });
        assert.deepEqual(d.spec.template.spec.imagePullSecrets, [{ name: await known(w.pullSecret!.metadata.name) }]);
        assert.deepEqual(rec.options.get("web-pull-secret")?.replaceOnChanges, ["data", "stringData"]);
    });

    it("bounds the wait for readiness: 300 s by default, configurable", async () => {
        const rec = optionsRecorder();
        new KubernetesWorkload("web", { image: DIGEST_REF }, { transformations: rec.transformations });
        new KubernetesWorkload("quick", { image: DIGEST_REF, readyTimeoutSeconds: 60 }, { transformations: rec.transformations });
        new KubernetesWorkload("batch", { image: DIGEST_REF, kind: "job", readyTimeoutSeconds: 90 }, { transformations: rec.transformations });
        await settle();
        assert.deepEqual(rec.options.get("web-deployment")?.customTimeouts, { create: "300s", update: "300s" });
        assert.deepEqual(rec.options.get("quick-deployment")?.customTimeouts, { create: "60s", update: "60s" });
        assert.deepEqual(rec.options.get("batch-job")?.customTimeouts, { create: "90s", update: "90s" });
        assert.equal(registered(JOB, "batch-job").inputs.spec.activeDeadlineSeconds, 90);
    });

    it("gives 2 or more replicas a PodDisruptionBudget and spreads them across nodes", async () => {
        const w = new KubernetesWorkload("web", { image: DIGEST_REF, appName: "server", replicas: 3 });
        const d = await deployed(w);
        await known(w.podDisruptionBudget!.urn);
        const pdb = registered(PDB, "web-pdb").inputs;
        assert.equal(pdb.metadata.name, "server");
        assert.deepEqual(pdb.spec, { maxUnavailable: 1, selector: { matchLabels: w.selectorLabels } });
        assert.deepEqual(d.spec.template.spec.topologySpreadConstraints, [
            {
                maxSkew: 1,
                topologyKey: "kubernetes.io/hostname",
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: w.selectorLabels },
                matchLabelKeys: ["pod-template-hash"],
                nodeTaintsPolicy: "Honor",
            },
        ]);
    });

    it("leaves a single replica without budget or spread, and takes overrides", async () => {
        const one = new KubernetesWorkload("one", { image: DIGEST_REF });
        const tuned = new KubernetesWorkload("tuned", { image: DIGEST_REF, replicas: 4, podDisruptionBudget: { maxUnavailable: "25%" }, spreadAcrossNodes: false });
        const off = new KubernetesWorkload("off", { image: DIGEST_REF, replicas: 2, podDisruptionBudget: false });
        assert.equal((await deployed(one)).spec.template.spec.topologySpreadConstraints, undefined);
        assert.equal(one.podDisruptionBudget, undefined);
        assert.equal((await deployed(tuned)).spec.template.spec.topologySpreadConstraints, undefined);
        await known(tuned.podDisruptionBudget!.urn);
        assert.equal(registered(PDB, "tuned-pdb").inputs.spec.maxUnavailable, "25%");
        assert.equal(off.podDisruptionBudget, undefined);
        await settle();
        assert.deepEqual(ofType(PDB).map((r) => r.name), ["tuned-pdb"]);
    });

    it("passes secret env values through a Secret and secretKeyRef; plain values stay plain", async () => {
        const w = new KubernetesWorkload("web", {
            image: DIGEST_REF,
            env: { LOG_LEVEL: "info", REGION: pulumi.output("eu-west"), API_TOKEN: pulumi.secret("s3cr3t") },
        });
        const d = await deployed(w);
        const env = d.spec.template.spec.containers[0].env;
        const secretName = await known(w.envSecret!.metadata.name);
        assert.deepEqual(env.slice(2), [
            { name: "LOG_LEVEL", value: "info" },
            { name: "REGION", value: "eu-west" },
            { name: "API_TOKEN", valueFrom: { secretKeyRef: { name: secretName, key: "API_TOKEN" } } },
        ]);
        assert.ok(!JSON.stringify(d).includes("s3cr3t"), "the secret value must not appear in the Deployment");
        const data = registered(SECRET, "web-env").inputs.stringData;
        assert.ok(isSecretInput(data));
        assert.deepEqual(unwrap(data), { API_TOKEN: "s3cr3t" });
    });

    it("makes no env Secret when every value is a plain string", async () => {
        const w = new KubernetesWorkload("web", { image: DIGEST_REF, env: { LOG_LEVEL: "info" } });
        await deployed(w);
        assert.equal(w.envSecret, undefined);
        assert.deepEqual(ofType(SECRET), []);
    });

    describe("autoscale", () => {
        const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
        const autoscale = { minReplicas: 2, maxReplicas: 4, cpuUtilization: 50 };

        it("keeps the replica count the Deployment last applied, so switching to the autoscaler drops no pod", async () => {
            const rec = optionsRecorder();
            const w = new KubernetesWorkload("web", { image: DIGEST_REF, namespace: "shop", autoscale }, { transformations: rec.transformations });
            await deployed(w);
            assert.equal(registered(DEPLOYMENT, "web-deployment").inputs.spec.replicas, undefined);
            assert.deepEqual(rec.options.get("web-deployment")?.ignoreChanges, ["spec.replicas"]);
            // A fixed count is the program's to apply, and takes the field back from an autoscaler.
            resetRegistrations();
            const fixed = optionsRecorder();
            await deployed(new KubernetesWorkload("web", { image: DIGEST_REF, namespace: "shop", replicas: 3 }, { transformations: fixed.transformations }));
            assert.equal(registered(DEPLOYMENT, "web-deployment").inputs.spec.replicas, 3);
            assert.equal(fixed.options.get("web-deployment")?.ignoreChanges, undefined);
        });

        it("makes an autoscaling/v2 HorizontalPodAutoscaler on CPU for the Deployment, named after the app", async () => {
            const w = new KubernetesWorkload("web", { image: DIGEST_REF, appName: "server", namespace: "shop", autoscale });
            await deployed(w);
            await known(w.autoscaler!.urn);
            const hpa = registered(HPA, "web-autoscaler");
            assert.equal(hpa.inputs.metadata.name, "server");
            assert.equal(hpa.inputs.metadata.namespace, "shop");
            assert.deepEqual(hpa.inputs.spec, {
                scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "server" },
                minReplicas: 2,
                maxReplicas: 4,
                metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } } }],
            });
            assert.deepEqual(await typeChain(w.autoscaler!), ["dockyard:kubernetes:KubernetesWorkload", HPA]);
        });

        it("follows the request rate as a pod metric from the custom metrics API, beside CPU, in the API server's own spelling", async () => {
            const both = new KubernetesWorkload("web", {
                image: DIGEST_REF,
                appName: "server",
                metrics: { port: 9102 },
                autoscale: { minReplicas: 2, maxReplicas: 6, cpuUtilization: 70, requestsPerSecond: 12.5 },
            });
            const only = new KubernetesWorkload("api", {
                image: DIGEST_REF,
                appName: "api",
                metrics: { port: 9102 },
                autoscale: { minReplicas: 1, maxReplicas: 3, requestsPerSecond: 2000, requestsPerSecondMetric: "api_requests_per_second" },
            });
            await Promise.all([known(both.autoscaler!.urn), known(only.autoscaler!.urn)]);
            assert.deepEqual(registered(HPA, "web-autoscaler").inputs.spec.metrics, [
                { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
                { type: "Pods", pods: { metric: { name: "http_requests_per_second" }, target: { type: "AverageValue", averageValue: "12500m" } } },
            ]);
            assert.deepEqual(registered(HPA, "api-autoscaler").inputs.spec.metrics, [
                // As the API server stores it: a refresh then finds what was applied.
                { type: "Pods", pods: { metric: { name: "api_requests_per_second" }, target: { type: "AverageValue", averageValue: "2k" } } },
            ]);
        });

        it("leaves the Deployment's replicas unset, so no update scales it back", async () => {
            const d = await deployed(new KubernetesWorkload("web", { image: DIGEST_REF, autoscale }));
            assert.ok(!("replicas" in d.spec) || d.spec.replicas === undefined, JSON.stringify(d.spec.replicas));
            const fixed = await deployed(new KubernetesWorkload("fixed", { image: DIGEST_REF, replicas: 3 }));
            assert.equal(fixed.spec.replicas, 3);
            await settle();
            assert.deepEqual(ofType(HPA).map((r) => r.name), ["web-autoscaler"]);
        });

        it("gives minReplicas of 2 or more the budget and the spread, as replicas does; 1 gets neither", async () => {
            const two = new KubernetesWorkload("two", { image: DIGEST_REF, autoscale });
            const one = new KubernetesWorkload("one", { image: DIGEST_REF, autoscale: { minReplicas: 1, maxReplicas: 5, cpuUtilization: 80 } });
            assert.equal((await deployed(two)).spec.template.spec.topologySpreadConstraints.length, 1);
            await known(two.podDisruptionBudget!.urn);
            assert.deepEqual(registered(PDB, "two-pdb").inputs.spec.maxUnavailable, 1);
            assert.equal((await deployed(one)).spec.template.spec.topologySpreadConstraints, undefined);
            assert.equal(one.podDisruptionBudget, undefined);
        });
    });

    describe("node loss", () => {
        const tolerations = (seconds: number) =>
            ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"].map((key) => ({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: seconds }));

        it("replaces pods on a node that stopped answering after 30 s, not Kubernetes' 300 s", async () => {
            const d = await deployed(new KubernetesWorkload("web", { image: DIGEST_REF }));
            assert.deepEqual(d.spec.template.spec.tolerations, tolerations(30));
        });

        it("takes nodeLossTolerationSeconds, for services and jobs", async () => {
            const d = await deployed(new KubernetesWorkload("web", { image: DIGEST_REF, nodeLossTolerationSeconds: 120 }));
            assert.deepEqual(d.spec.template.spec.tolerations, tolerations(120));
            const job = new KubernetesWorkload("batch", { image: DIGEST_REF, kind: "job", nodeLossTolerationSeconds: 0 });
            await known(job.job!.urn);
            assert.deepEqual(registered(JOB, "batch-job").inputs.spec.template.spec.tolerations, tolerations(0));
        });
    });
});

describe("the message when pods never become Ready", () => {
    const timeout = "2 errors occurred:\n\t* resource default/greeter was not successfully created: 'greeter' timed out waiting to be Ready\n\t* [Pod default/greeter-5c7]: containers with unready status: [greeter]";

    it("names each probe, what it checks and the arg that sets it", () => {
        const message = notReadyMessage(timeout, "greeter", 9090, { readinessPath: "/readyz" });
        assert.equal(
            message,
            "greeter: its pods did not become Ready: the readiness probe is HTTP GET /readyz on port 9090, which must answer 2xx or 3xx " +
                "(readinessPath sets the path; unset, it is a TCP check); the liveness probe connects to port 9090 over TCP (port sets the port); " +
                "the startup probe makes the liveness check and holds both back for up to readyTimeoutSeconds. " +
                '`kubectl describe pod` lists each probe failure under Events ("Startup probe failed", "Readiness probe failed", "Liveness probe failed").',
        );
    });

    it("says nothing for failures that are not about readiness", () => {
        assert.equal(notReadyMessage('admission webhook denied the request: spec.replicas', "greeter", 9090, {}), undefined);
    });

    it("registers no error hook under mocks, which cannot register one", async () => {
        const rec = optionsRecorder();
        const w = new KubernetesWorkload("hooked", { image: DIGEST_REF }, { transformations: rec.transformations });
        await known(w.deployment!.urn);
        assert.equal(rec.options.get("hooked-deployment")?.hooks, undefined);
    });
});
