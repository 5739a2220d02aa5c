// The Kubernetes path for real: a real cluster (control plane and one real node), a registry with a
// password, and the real Pulumi engine and Kubernetes provider driving the program's own composition
// (config.ts → compose.ts → GoApp) in staging's shape. Each step asserts what a user would see.
// Requests come from a probe pod in the namespace, through the Service. With DOCKYARD_E2E_KUBECONFIG
// set it runs against one's own cluster and registry; the node-level checks (the process's UID and
// mounts, the host restored) need the local one.
import { GoApp } from "@dockyard/components";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type * as automation from "@pulumi/pulumi/automation";
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import { X509Certificate, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tls from "tls";
import { parseQuantity } from "../../components/internal/quantity";
import { program } from "../../compose";
import { Cluster, hostSnapshot, tempFiles } from "../support/cluster";
import { Janitor, appsDir, dockerCli, ensureEngine, ensureGoBaseImage, ensureGreeterBase, greeterDir, repoRoot, run, waitUntil } from "../support/docker";
import { type Engine, changes, startEngine } from "../support/engine";
import { type StateStore, startStateStore } from "../support/stateStore";
import { GatewayStandIn, STAND_IN_ADDRESS, STAND_IN_CONTROLLER } from "../support/gatewayStandIn";
import { IngressClient, type LoopSummary } from "../support/ingressClient";
import { type SuiteCa, makeSuiteCa } from "../support/suiteCa";
import { Probe, type ProbeSummary } from "../support/probe";
import { PrometheusApi } from "../support/prometheus";
import { stackConfig } from "../support/stacks";
import { StackWorker } from "../support/stackWorker";

const timings: [string, number][] = [];
let stepStarted = 0;

/** Each step's wall time, printed as a table when the suite ends. */
function timed(title: string, fn: (this: Mocha.Context) => Promise<void>): void {
    it(title, async function () {
        stepStarted = Date.now();
        try {
            await fn.call(this);
        } finally {
            timings.push([title, (Date.now() - stepStarted) / 1000]);
        }
    });
}

describe("Kubernetes end to end: real cluster, registry and engine", function () {
    const hostBefore = hostSnapshot();
    const tempBefore = new Set(tempFiles());
    const envBefore = { KUBECONFIG: process.env.KUBECONFIG, KUBECTL: process.env.KUBECTL };
    const janitor = new Janitor();
    // Everything this suite writes lives here, and goes on exit too (Ctrl-C skips `after`).
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-e2e-work-"));
    const dockerConfig = path.join(work, "docker");
    const httploop = path.join(work, "httploop");
    const cleanUp = () => {
        janitor.cleanSync();
        fs.rmSync(work, { recursive: true, force: true });
    };
    process.once("exit", cleanUp);
    const namespace = `dockyard-e2e-${Date.now().toString(36)}`;
    let cluster: Cluster;
    let engine: Engine;
    let store: StateStore | undefined;
    let stack: automation.Stack;
    let goImage: string;
    let probeImage: string;
    let probe: Probe;
    let prometheus: PrometheusApi;
    const refs: Record<string, string> = {};
    /** Every server digest staging ran, oldest first: the rollback step pins an earlier one. */
    const refsHistory: { server: string[] } = { server: [] };
    /** C1's project folder, and its install (npm pack, npm install), begun with the setup. */
    const consumerDir = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-consumer-e2e-"));
    let consumerInstalled: Promise<string> = Promise.reject(new Error("the setup did not run"));
    consumerInstalled.catch(() => undefined);
    /** The commit staging's images are said to come from; promotion must carry it to prod. */
    let stagingCommit = "e2e0000000000001";
    let prod: automation.Stack | undefined;
    const prodNamespace = `${namespace}-prod`;
    let greeter: automation.Stack | undefined;
    /** K3's stack, destroyed with the others at the end. */
    let fresh: automation.Stack | undefined;
    const greeterNamespace = `${namespace}-greeter`;
    let setupSeconds = 0;

    /** The Docker CLI's login to the suite's registry, with its current password. */
    async function dockerLogin(): Promise<void> {
        const login = await run(dockerCli(), ["login", "-u", cluster.info.registry.username, "--password-stdin", cluster.info.registry.server], {
            env: { DOCKER_CONFIG: dockerConfig },
            input: (await import("stream")).Readable.from([cluster.info.registry.password]),
        });
        assert.equal(login.code, 0, login.stderr);
    }

    /** Builds apps/<app> unchanged and pushes it; `variant` makes a distinct image (a label) without a code change. */
    function pushApp(app: string, variant: string): Promise<string> {
        return pushImage(app, variant, path.join(appsDir, app), ["--build-arg", `GO_IMAGE=${goImage}`]);
    }

    const dockerRun = (args: string[]) => run(dockerCli(), args, { env: { DOCKER_BUILDKIT: "1", DOCKER_CONFIG: dockerConfig } });

    /** Builds an image under a local name of this run's (no registry needed yet); returns that name. */
    async function buildImage(repository: string, variant: string, context: string, buildArgs: string[] = []): Promise<string> {
        const local = janitor.image(`dockyard-e2e-local/${repository}:${variant}-${namespace}`);
        const build = await dockerRun(["build", "--quiet", ...buildArgs, "--label", `dev.dockyard.e2e.variant=${variant}`, "-t", local, context]);
        if (build.code !== 0) throw new Error(`docker build ${local}: ${build.stderr}`);
        return local;
    }

    /** Pushes a built image to the suite's registry; returns it by digest. */
    async function pushBuilt(local: string, repository: string, variant: string): Promise<string> {
        const tag = janitor.image(`${cluster.info.registry.server}/${repository}:${variant}`);
        const tagged = await dockerRun(["tag", local, tag]);
        if (tagged.code !== 0) throw new Error(`docker tag ${local} ${tag}: ${tagged.stderr}`);
        // The digest this registry now holds, as the push reports it: a cached image may carry others.
        const push = await dockerRun(["push", tag]);
        const pushed = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
        if (push.code !== 0 || !pushed) throw new Error(`docker push ${tag}: ${push.stderr || push.stdout}`);
        return `${cluster.info.registry.server}/${repository}@${pushed}`;
    }

    async function pushImage(repository: string, variant: string, context: string, buildArgs: string[] = []): Promise<string> {
        return pushBuilt(await buildImage(repository, variant, context, buildArgs), repository, variant);
    }

    /** readyTimeoutSeconds for the steps whose `up` must fail: long enough for the pods' failure to show. */
    const FAILING_UP_TIMEOUT = 20;

    /** How long server's pods stay on a lost node, set through the stack config (the default, 30 s, is unit-tested). */
    const NODE_LOSS_TOLERATION = 10;

    /** server's health paths, as staging's stack file gives them: without them its probes would be TCP checks. */
    const { readinessPath, livenessPath, metrics } = JSON.parse(stackConfig("staging")["dockyard:apps"]).server;
    /** As the stack file gives them too: the metrics port. */
    const SERVER_PROBES = { readinessPath, livenessPath, metrics };

    /**
     * What server's NetworkPolicy admits beside its namespace: the Prometheus that scrapes it, which is not a pod
     * on the local cluster (it scrapes from the nodes' network, which an enforcer refuses from the other node).
     */
    function scrapePolicy(): { scrapeFrom?: Record<string, string>[] } {
        const prometheusNamespace = process.env.DOCKYARD_E2E_PROMETHEUS_NAMESPACE;
        if (cluster.info.nodesCidr) return { scrapeFrom: [{ cidr: cluster.info.nodesCidr }] };
        return prometheusNamespace ? { scrapeFrom: [{ namespace: prometheusNamespace }] } : {};
    }

    function appsConfig(server: string, hello: string, serverSettings: Record<string, unknown> = { replicas: 2 }): string {
        const settings = { nodeLossTolerationSeconds: NODE_LOSS_TOLERATION, ...SERVER_PROBES, networkPolicy: scrapePolicy(), ...serverSettings, image: server };
        return JSON.stringify({ hello: { kind: "job", image: hello }, server: settings });
    }

    async function configure(extra: Record<string, string> = {}, serverSettings?: Record<string, unknown>): Promise<void> {
        const { server, username } = cluster.info.registry;
        const plain: Record<string, string> = {
            "dockyard:target": "kubernetes",
            "dockyard:appsDir": path.join(repoRoot, "apps"),
            "dockyard:namespace": namespace,
            "dockyard:registry": JSON.stringify({ server, username }),
            // Kept short (the default is 300); the steps whose up must fail set FAILING_UP_TIMEOUT.
            "dockyard:readyTimeoutSeconds": "60",
            // Pinned to the cluster under test, as a stack pins it to its own.
            "dockyard:podSecurityVersion": cluster.minorVersion,
            "dockyard:apps": appsConfig(refs.server, refs.hello, serverSettings),
            ...extra,
        };
        await stack.setAllConfig(Object.fromEntries(Object.entries(plain).map(([k, value]) => [k, { value }])));
    }

    /**
     * Another stack of this project in its own namespace, deploying to the suite's registry with its password:
     * `extra` adds to the settings or overrides them (its apps default to staging's).
     */
    async function otherStack(name: string, ns: string, extra: Record<string, automation.ConfigValue> = {}): Promise<automation.Stack> {
        const other = await engine.workspace(name, () => program());
        const { server, username, password } = cluster.info.registry;
        await other.setAllConfig({
            "dockyard:target": { value: "kubernetes" },
            "dockyard:appsDir": { value: path.join(repoRoot, "apps") },
            "dockyard:namespace": { value: ns },
            "dockyard:podSecurityVersion": { value: cluster.minorVersion },
            "dockyard:registry": { value: JSON.stringify({ server, username }) },
            "dockyard:registryPassword": { value: password, secret: true },
            "dockyard:apps": { value: appsConfig(refs.server, refs.hello) },
            ...extra,
        });
        return other;
    }

    /** A replacement with delete first, as the engine reports its steps. */
    const replaced = (type: string) => [`create-replacement ${type}`, `delete-replaced ${type}`, `replace ${type}`];

    /** `up` on a stack; a failed update rejects. */
    async function up(on: automation.Stack, opts: { refresh?: boolean } = {}): Promise<{ result: automation.UpResult; ops: string[] }> {
        const events: automation.EngineEvent[] = [];
        const result = await on.up({ onEvent: (e) => events.push(e), color: "never", refresh: opts.refresh });
        return { result, ops: changes(events) };
    }

    /** Pushes server's image anew (a distinct `variant`) and records it; `configure` then deploys it. */
    async function pushServer(variant: string): Promise<void> {
        refs.server = await pushApp("server", variant);
        refsHistory.server.push(refs.server);
    }

    /**
     * A new server image rolling out: pushed, configured, a request loop from inside the cluster started first,
     * then `up`, returned (not awaited) once the rollout has begun.
     */
    async function startRollout(variant: string): Promise<{ loop: Awaited<ReturnType<Probe["loop"]>>; update: ReturnType<typeof up> }> {
        await pushServer(variant);
        await configure();
        const loop = await probe.loop(await serviceUrl());
        const update = up(stack);
        // Awaited by the caller; this only keeps a failure meanwhile from going unhandled.
        update.catch(() => undefined);
        await waitUntil("the rollout to begin", 120_000, async () =>
            (await cluster.getJson(["get", "deployment", "server", "-n", namespace])).spec.template.spec.containers[0].image === refs.server ? true : undefined,
        );
        return { loop, update };
    }

    /**
     * The two server pods once only pods of the new image are left. `up` returns once the new pods are ready,
     * while the old ones still drain: a request loop kept on until then measures their shutdown too.
     */
    function rolledOut(): Promise<any[]> {
        return waitUntil("the old server pods to be gone", 120_000, async () => {
            const current = await serverPods();
            return current.length === 2 && current.every((p) => p.spec.containers[0].image === refs.server) ? current : undefined;
        });
    }

    async function serverPods(ns = namespace): Promise<any[]> {
        return (await cluster.getJson(["get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=server"])).items;
    }

    const isReady = (pod: any) => !pod.metadata.deletionTimestamp && pod.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");

    /** The server pods that are Ready and not going away, once there are `count` of them (and, given `on`, all on that node). */
    function readyServerPods(count: number, timeoutMs: number, on?: string): Promise<any[]> {
        return waitUntil(`${count} Ready server pods${on ? ` on ${on}` : ""}`, timeoutMs, async () => {
            const ready = (await serverPods()).filter(isReady);
            return ready.length === count && (!on || ready.every((p) => p.spec.nodeName === on)) ? ready : undefined;
        });
    }

    /**
     * Runs `work` while reading server's Deployment every 250 ms and for 3 s after it ends: the fewest replicas it
     * asked for and the fewest ready, as a user's `kubectl get deployment -w` would have seen them.
     */
    async function sampledServer<T>(work: Promise<T>): Promise<{ value: T; fewestSpec: number; fewestReady: number; samples: number }> {
        let fewestSpec = Infinity;
        let fewestReady = Infinity;
        let samples = 0;
        let until = Infinity;
        const sampler = (async () => {
            while (Date.now() < until) {
                const d = await cluster.getJson(["get", "deployment", "server", "-n", namespace]);
                fewestSpec = Math.min(fewestSpec, d.spec.replicas ?? 1);
                fewestReady = Math.min(fewestReady, d.status.readyReplicas ?? 0);
                samples++;
                await new Promise((r) => setTimeout(r, 250));
            }
        })();
        try {
            return { value: await work, fewestSpec, fewestReady, samples };
        } finally {
            until = Date.now() + 3000;
            await sampler;
        }
    }

    /** Evicts a pod through the eviction API as a dry run: what the disruption budget answers, and nothing evicted. */
    async function evictionAnswer(pod: string): Promise<{ code: number; stderr: string }> {
        const eviction = { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace }, deleteOptions: { dryRun: ["All"] } };
        return cluster.kubectl(["create", "--raw", `/api/v1/namespaces/${namespace}/pods/${pod}/eviction`, "-f", "-"], JSON.stringify(eviction));
    }

    /** The image IDs the node resolved for an app's pods: what really runs, byte for byte. */
    async function imageIds(ns: string, app: string): Promise<string[]> {
        const pods = (await cluster.getJson(["get", "pods", "-n", ns, "-l", `app.kubernetes.io/name=${app}`])).items;
        return [...new Set<string>(pods.filter((p: any) => !p.metadata.deletionTimestamp).map((p: any) => p.status.containerStatuses[0].imageID))].sort();
    }

    /** Every tag of every repository in the registry, to prove a promotion pushed nothing. */
    async function registryContents(): Promise<string[]> {
        const { server, username, password } = cluster.info.registry;
        const auth = { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` };
        const base = server.startsWith("127.") || server.startsWith("localhost") ? `http://${server}` : `https://${server}`;
        const get = async <T>(url: string): Promise<T> => (await fetch(url, { headers: auth })).json() as Promise<T>;
        const { repositories } = await get<{ repositories: string[] }>(`${base}/v2/_catalog`);
        const tags = await Promise.all(repositories.map(async (repo) => ((await get<{ tags: string[] | null }>(`${base}/v2/${repo}/tags/list`)).tags ?? []).map((t) => `${repo}:${t}`)));
        return tags.flat().sort();
    }

    async function serviceUrl(): Promise<string> {
        const svc = await cluster.getJson(["get", "service", "server", "-n", namespace]);
        return `http://${svc.spec.clusterIP}:${svc.spec.ports[0].port}/`;
    }

    before(async function () {
        this.timeout(30 * 60_000);
        const started = Date.now();
        await ensureEngine();
        consumerInstalled = installConsumer(consumerDir);
        // Awaited by C1; this only keeps a failure meanwhile from going unhandled.
        consumerInstalled.catch(() => undefined);
        // The cluster starts (its own processes) while the base images are made here; a failure on either side
        // still stops a cluster that came up.
        const starting = Cluster.start();
        let building: Promise<string[]>;
        try {
            goImage = await ensureGoBaseImage(janitor);
            await ensureGreeterBase(janitor, goImage);
            fs.mkdirSync(dockerConfig);
            // Only the probe's binary and Dockerfile may sit in the build context: the rest of `work` stays out.
            fs.writeFileSync(path.join(work, ".dockerignore"), "*\n!httploop\n!Dockerfile\n");
            execFileSync("go", ["build", "-o", httploop, "./cmd/httploop"], { cwd: path.join(repoRoot, "test", "e2e", "tools"), env: { ...process.env, CGO_ENABLED: "0" } });
            // The probe: httploop, static, alone in an image.
            fs.writeFileSync(path.join(work, "Dockerfile"), 'FROM scratch\nCOPY httploop /httploop\nUSER 65532:65532\nENTRYPOINT ["/httploop"]\n');
            // Built while the cluster starts, pushed once its registry is up.
            building = Promise.all([
                buildImage("server", "v1", path.join(appsDir, "server"), ["--build-arg", `GO_IMAGE=${goImage}`]),
                buildImage("hello", "v1", path.join(appsDir, "hello"), ["--build-arg", `GO_IMAGE=${goImage}`]),
                // Built from its own Dockerfile, with no build args: as its owner would, before handing over the digest.
                buildImage("greeter", "v1", greeterDir),
                buildImage("dockyard-e2e-probe", "v1", work),
            ]);
            building.catch(() => undefined);
        } catch (e) {
            await starting.then((c) => c.stop(), () => undefined);
            throw e;
        }
        cluster = await starting;
        // staging and prod keep their state in a bucket, as CI keeps theirs: every step runs against S3.
        store = await startStateStore(path.join(work, "s3"));
        engine = await startEngine(cluster.info.kubeconfig, path.join(work, "engine"), store);
        prometheus = new PrometheusApi(cluster.info.prometheus);
        // Inline programs run in this process: their ownership check reads the cluster with kubectl, as a
        // program under `pulumi up` would with the KUBECONFIG it inherits.
        Object.assign(process.env, { KUBECONFIG: cluster.info.kubeconfig, KUBECTL: cluster.info.kubectl });
        await dockerLogin();
        const [server, hello, greeterLocal, probeLocal] = await building;
        [refs.server, refs.hello, refs.greeter, probeImage] = await Promise.all([
            pushBuilt(server, "server", "v1"),
            pushBuilt(hello, "hello", "v1"),
            pushBuilt(greeterLocal, "greeter", "v1"),
            pushBuilt(probeLocal, "dockyard-e2e-probe", "v1"),
        ]);
        refsHistory.server.push(refs.server);
        stack = await engine.workspace("e2e-staging", () => program({ ...process.env, DOCKYARD_SOURCE_COMMIT: stagingCommit }));
        await configure();
        await stack.setConfig("dockyard:registryPassword", { value: cluster.info.registry.password, secret: true });
        setupSeconds = (Date.now() - started) / 1000;
    });

    after(async function () {
        this.timeout(5 * 60_000);
        try {
            await load?.stop().catch(() => undefined);
            await standIn?.stop().catch(() => undefined);
            await edgeWorker?.stop();
            if (edge) await edge.destroy({ color: "never" }).catch(() => undefined);
            if (greeter) await greeter.destroy({ color: "never" }).catch(() => undefined);
            if (fresh) await fresh.destroy({ color: "never" }).catch(() => undefined);
            if (prod) await prod.destroy({ color: "never" }).catch(() => undefined);
            if (stack) await stack.destroy({ color: "never" }).catch(() => undefined);
        } finally {
            for (const key of ["KUBECONFIG", "KUBECTL"] as const) {
                if (envBefore[key] === undefined) delete process.env[key];
                else process.env[key] = envBefore[key];
            }
            cluster?.stop();
            store?.stop();
            await janitor.clean();
            await consumerInstalled.catch(() => undefined);
            fs.rmSync(consumerDir, { recursive: true, force: true });
            process.removeListener("exit", cleanUp);
            cleanUp();
            console.log(`\n  setup (images, cluster, engine): ${setupSeconds.toFixed(1)} s`);
            for (const [title, seconds] of timings) console.log(`  ${seconds.toFixed(1).padStart(6)} s  ${title}`);
        }
    });

    timed("1. up: restricted namespace, pulls with the generated secret, Ready pods, Service answers, Job logs, PDB", async () => {
        const { result, ops } = await up(stack);
        assert.equal(result.summary.result, "succeeded");
        assert.ok(ops.every((op) => op.startsWith("create ")), `only creates on the first up: ${ops.join(", ")}`);

        const ns = await cluster.getJson(["get", "namespace", namespace]);
        assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
        assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce-version"], cluster.minorVersion);

        const pods = await serverPods();
        assert.equal(pods.length, 2);
        for (const pod of pods) {
            assert.equal(pod.status.phase, "Running");
            assert.ok(pod.status.conditions.some((c: any) => c.type === "Ready" && c.status === "True"), `${pod.metadata.name} is Ready`);
            assert.equal(pod.spec.containers[0].image, refs.server);
            assert.deepEqual(pod.spec.containers[0].readinessProbe.httpGet, { path: "/readyz", port: "http", scheme: "HTTP" });
            assert.equal(pod.spec.serviceAccountName, "server");
            const [pullSecret] = pod.spec.imagePullSecrets;
            const secret = await cluster.getJson(["get", "secret", pullSecret.name, "-n", namespace]);
            assert.equal(secret.type, "kubernetes.io/dockerconfigjson");
            const auths = JSON.parse(Buffer.from(secret.data[".dockerconfigjson"], "base64").toString()).auths;
            assert.deepEqual(Object.keys(auths), [cluster.info.registry.server]);
            // The image was pulled from the password-protected registry, not found on the node already.
            const events = await cluster.kubectlOk(["get", "events", "-n", namespace, "--field-selector", `involvedObject.name=${pod.metadata.name}`, "-o", "jsonpath={.items[*].reason}"]);
            assert.match(events, /Pulled/);

            if (!cluster.local) continue;
            // What runs, read from the process itself: UID 65532, root filesystem mounted read-only.
            const containerId = pod.status.containerStatuses[0].containerID.replace("containerd://", "");
            const tasks = (await cluster.ctr(pod.spec.nodeName, ["tasks", "ls"])).stdout;
            const pid = tasks.split("\n").find((l) => l.startsWith(containerId))?.split(/\s+/)[1];
            assert.ok(pid, `a running task for ${containerId}`);
            assert.match(fs.readFileSync(`/proc/${pid}/status`, "utf8"), /^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
            const root = fs.readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n").find((l) => l.split(" ")[4] === "/");
            assert.match(root!.split(" ")[5], /^ro(,|$)/);
        }

        probe = new Probe(cluster, namespace, probeImage, pods[0].spec.imagePullSecrets[0].name);
        const answers = await probe.requests(await serviceUrl(), 4);
        assert.equal(answers.failures, 0, JSON.stringify(answers));
        assert.equal(answers.bodies!.length, 4);
        for (const body of answers.bodies!) assert.match(body, /^Hello, World! Counter: [0-9]+\n?$/);

        const job = await cluster.getJson(["get", "job", "hello", "-n", namespace]);
        assert.equal(job.status.succeeded, 1);
        assert.equal((await cluster.kubectlOk(["logs", "job/hello", "-n", namespace])).trim(), "Hello, World!");

        const pdb = await cluster.getJson(["get", "pdb", "server", "-n", namespace]);
        assert.equal(pdb.spec.maxUnavailable, 1);
        assert.deepEqual(pdb.spec.selector.matchLabels, { "app.kubernetes.io/name": "server", "app.kubernetes.io/instance": "server-workload" });
        assert.equal(pdb.status.currentHealthy, 2);

        const outputs = await stack.outputs();
        assert.equal(outputs.apps.value.server.imageRef, refs.server);
        assert.equal(outputs.apps.value.server.endpoint, `server.${namespace}.svc.cluster.local:8080`);
    });

    timed("2. a preview right after reports no changes", async () => {
        const preview = await stack.preview({ expectNoChanges: true, color: "never" });
        assert.deepEqual(Object.keys(preview.changeSummary), ["same"]);
    });

    timed("2b. server's metrics: Prometheus finds its pods by their scrape annotations and counts exactly the requests answered; each request has its log line", async () => {
        const pods = (await serverPods()).filter(isReady);
        for (const pod of pods) {
            assert.deepEqual(
                Object.fromEntries(Object.entries(pod.metadata.annotations ?? {}).filter(([k]) => k.startsWith("prometheus.io/"))),
                { "prometheus.io/scrape": "true", "prometheus.io/port": String(metrics.port), "prometheus.io/path": "/metrics" },
            );
        }
        const svc = await cluster.getJson(["get", "service", "server", "-n", namespace]);
        const port = svc.spec.ports.find((p: any) => p.name === "metrics");
        assert.deepEqual({ port: port.port, targetPort: port.targetPort }, { port: metrics.port, targetPort: "metrics" });

        const names = pods.map((p) => p.metadata.name).sort();
        const scope = `namespace="${namespace}",pod=~"${names.join("|")}"`;
        const greetings = `http_requests_total{${scope},route="/",method="GET",code="200"}`;
        /** The greetings Prometheus holds from its first scrape of every pod that starts after now. */
        const nextScrape = async (): Promise<{ greetings: number; counters: Record<string, number> }> => {
            const after = Date.now() / 1000;
            return waitUntil("a scrape of every server pod", 30_000, async () => {
                // `up` is written at every scrape of a target, with the scrape's own timestamp.
                const scrapes = await prometheus.query(`timestamp(up{${scope}}) and up{${scope}} == 1`);
                if (scrapes.length !== names.length || scrapes.some((s) => s.value <= after)) return undefined;
                const [sum] = await prometheus.query(`sum(${greetings})`);
                const counters = await prometheus.query(`hello_counter{${scope}}`);
                return { greetings: sum?.value ?? 0, counters: Object.fromEntries(counters.map((c) => [c.labels.pod, c.value])) };
            });
        };
        // Every pod found through service discovery, on its metrics port: the Service's port is not what is scraped.
        const targets = await waitUntil("Prometheus to find every server pod", 60_000, async () => {
            const up = await prometheus.query(`up{${scope}} == 1`);
            return up.length === names.length ? up : undefined;
        });
        assert.deepEqual(
            targets.map((t) => t.labels.instance).sort(),
            pods.map((p) => `${p.status.podIP}:${metrics.port}`).sort(),
        );

        const before = await nextScrape();
        const loop = await probe.requests(await serviceUrl(), 20);
        const after = await nextScrape();
        const answered = loop.requests - loop.failures;
        assert.ok(answered > 0, JSON.stringify(loop));
        assert.equal(after.greetings - before.greetings, answered, "what Prometheus counted, at its first scrape after the loop, is what the loop saw answered");
        const total = (counters: Record<string, number>) => Object.values(counters).reduce((a, b) => a + b, 0);
        assert.equal(total(after.counters) - total(before.counters), answered, "the hit-counter gauges moved by the requests answered");
        // The greeting each answer carries is its pod's counter: the highest one answered is the highest gauge.
        const highest = Math.max(...loop.bodies!.map((b) => Number(/Counter: (\d+)/.exec(b)?.[1] ?? NaN)));
        assert.equal(Math.max(...Object.values(after.counters)), highest, JSON.stringify(after.counters));

        // One request with a path of its own: its line in `kubectl logs`, with its status and duration.
        const marker = `/dockyard-e2e-log-${randomBytes(4).toString("hex")}`;
        const missing = await probe.requests(`${(await serviceUrl()).replace(/\/$/, "")}${marker}`, 1);
        assert.equal(missing.failures, 1, JSON.stringify(missing));
        const line = await waitUntil(`the log line of GET ${marker}`, 30_000, async () => {
            const logs = await cluster.kubectlOk(["logs", "-n", namespace, "-l", "app.kubernetes.io/name=server", "--tail=-1"]);
            return logs.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((l) => l.msg === "request" && l.path === marker);
        });
        assert.equal(line.method, "GET");
        assert.equal(line.status, 404);
        assert.equal(typeof line.duration_ms, "number");
        assert.match(String(line.remote), /^[\d.]+:\d+$/);
    });

    timed("3. a new server image rolls only the Deployment, with zero failed requests; a second `up` meanwhile fails fast, naming the first", async () => {
        const { loop, update: first } = await startRollout("v2");
        // Another deploy of the same stack, as a second CI job would start one, while the first applies.
        const rival = await engine.workspace("e2e-staging", () => program({ ...process.env, DOCKYARD_SOURCE_COMMIT: stagingCommit }));
        const rivalStarted = Date.now();
        await assert.rejects(rival.up({ color: "never" }), (e: Error) => {
            assert.match(e.message, /the stack is currently locked by 1 lock\(s\)/);
            // The holder: user@host, its pid and when it took the lock.
            assert.match(e.message, new RegExp(`created by \\S+@${os.hostname()} \\(pid \\d+\\) at \\d{4}-\\d\\d-\\d\\dT`));
            return true;
        });
        const rivalSeconds = (Date.now() - rivalStarted) / 1000;
        assert.ok(rivalSeconds < 15, `the second up took ${rivalSeconds} s to fail`);
        console.log(`      a second up failed after ${rivalSeconds.toFixed(1)} s, naming the first`);
        const { ops } = await first;
        const pods = await rolledOut();
        const summary = await loop.stop();
        assert.deepEqual(ops, ["update kubernetes:apps/v1:Deployment"]);
        assert.ok(summary.requests > 100, `the loop ran: ${JSON.stringify(summary)}`);
        assert.equal(summary.failures, 0, `failed requests during the rollout: ${JSON.stringify(summary)}`);
        for (const pod of pods) assert.ok(pod.status.conditions.some((c: any) => c.type === "Ready" && c.status === "True"));
    });

    timed("4. a new hello image replaces the Job, which completes again", async () => {
        const before = await cluster.getJson(["get", "job", "hello", "-n", namespace]);
        refs.hello = await pushApp("hello", "v2");
        await configure();
        const { ops } = await up(stack);
        // Delete-before-replace, as the engine reports it: the old Job goes, then the new one is made; once it
        // completed, its run record names the new run (the provider replaces a ConfigMap whose data changed).
        assert.deepEqual(ops, [...replaced("kubernetes:batch/v1:Job"), ...replaced("kubernetes:core/v1:ConfigMap")].sort());
        const job = await cluster.getJson(["get", "job", "hello", "-n", namespace]);
        assert.notEqual(job.metadata.uid, before.metadata.uid);
        assert.equal(job.spec.template.spec.containers[0].image, refs.hello);
        assert.equal(job.status.succeeded, 1);
        assert.equal((await cluster.kubectlOk(["logs", "job/hello", "-n", namespace])).trim(), "Hello, World!");
    });

    timed("4b. day two: the finished Job collected as its TTL would; drift reports nothing, a refreshed up runs nothing; a new image runs it exactly once", async () => {
        const helloPods = async () => (await cluster.getJson(["get", "pods", "-n", namespace, "-l", "batch.kubernetes.io/job-name=hello"])).items;
        // What the TTL controller does an hour after the Job finished (no need to wait for it): the Job and its pod go.
        await cluster.kubectlOk(["delete", "job", "hello", "-n", namespace, "--cascade=background"]);
        await waitUntil("hello's pod to be gone", 60_000, async () => ((await helloPods()).length === 0 ? true : undefined));

        const drift = await driftCheck(stack.name);
        assert.equal(drift.code, 0, `${drift.stdout}${drift.stderr}`);
        assert.match(drift.stdout, /no drift/);
        const refreshed = await up(stack, { refresh: true });
        assert.deepEqual(refreshed.ops, [], "a refreshed up after the Job was collected changes nothing");
        assert.deepEqual((await cluster.getJson(["get", "jobs", "-n", namespace])).items, [], "no Job was made");
        assert.deepEqual(await helloPods(), [], "nothing ran");

        refs.hello = await pushApp("hello", "v3");
        await configure();
        const { ops } = await up(stack, { refresh: true });
        assert.deepEqual(ops, ["create kubernetes:batch/v1:Job", ...replaced("kubernetes:core/v1:ConfigMap")].sort());
        const job = await cluster.getJson(["get", "job", "hello", "-n", namespace]);
        assert.equal(job.spec.template.spec.containers[0].image, refs.hello);
        assert.equal(job.status.succeeded, 1);
        assert.equal((await helloPods()).length, 1, "the new image ran once");
        // And not again: the Job stays (no TTL by default) and the next refreshed up leaves it be.
        assert.deepEqual((await up(stack, { refresh: true })).ops, []);
        assert.equal((await cluster.getJson(["get", "job", "hello", "-n", namespace])).metadata.uid, job.metadata.uid);
        assert.equal((await helloPods()).length, 1);
    });

    timed("5. the namespace rejects a pod that breaks restricted", async () => {
        const pod = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "root-pod", namespace },
            // No security context at all: fine under "baseline", refused by "restricted".
            spec: { containers: [{ name: "c", image: refs.server }] },
        };
        const r = await cluster.kubectl(["create", "-f", "-"], JSON.stringify(pod));
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, new RegExp(`violates PodSecurity "restricted:${cluster.minorVersion.replace(".", "\\.")}"`));
        assert.match(r.stderr, /allowPrivilegeEscalation != false/);
        assert.match(r.stderr, /runAsNonRoot != true/);
    });

    timed("6a. a wrong registry password fails the preview, naming the registry's refusal", async () => {
        await stack.setConfig("dockyard:registryPassword", { value: "not-the-password", secret: true });
        try {
            await assert.rejects(stack.preview({ color: "never" }), (e: Error) => {
                const server = cluster.info.registry.server.replace(/\./g, "\\.");
                assert.match(e.message, new RegExp(`dockyard:registryPassword: registry ${server} refused the login of user "dockyard-e2e": 401 Unauthorized`));
                return true;
            });
        } finally {
            await stack.setConfig("dockyard:registryPassword", { value: cluster.info.registry.password, secret: true });
        }
    });

    timed("6b. stale pull credentials fail `up` within the bounded time, naming the pull error; the old pods keep serving", async () => {
        const { server, username } = cluster.info.registry;
        const stale = JSON.stringify({ auths: { [server]: { auth: Buffer.from(`${username}:rotated-away`).toString("base64") } } });
        await cluster.kubectlOk(["create", "secret", "generic", "stale-pull", "-n", namespace, "--type", "kubernetes.io/dockerconfigjson", `--from-literal=.dockerconfigjson=${stale}`]);
        // An image the node has never pulled, so the credentials are really used.
        const unpulled = await pushApp("server", "v3");
        await stack.setAllConfig({
            "dockyard:imagePullSecrets": { value: JSON.stringify(["stale-pull"]) },
            "dockyard:apps": { value: appsConfig(unpulled, refs.hello) },
            "dockyard:readyTimeoutSeconds": { value: String(FAILING_UP_TIMEOUT) },
        });
        const started = Date.now();
        await assert.rejects(up(stack), (e: Error) => {
            // The kubelet's own words, as the registry refused it.
            assert.match(e.message, /\[Pod [^\]]*\/server-[^\]]*\]: containers with unready status: \[server\]\[(ErrImagePull|ImagePullBackOff)\]/);
            const host = server.replace(/[.]/g, "\\.");
            assert.match(e.message, new RegExp(`pulling from host ${host} failed with status code \\[manifests sha256:[0-9a-f]{64}\\]: 401 Unauthorized`));
            return true;
        });
        const seconds = (Date.now() - started) / 1000;
        assert.ok(seconds < FAILING_UP_TIMEOUT + 90, `up gave up after ${seconds} s; readyTimeoutSeconds is ${FAILING_UP_TIMEOUT}`);
        const answer = await probe.requests(await serviceUrl(), 1);
        assert.equal(answer.failures, 0, JSON.stringify(answer));
        assert.match(answer.bodies![0], /^Hello, World! Counter: [0-9]+/);

        await stack.removeConfig("dockyard:imagePullSecrets");
        await configure();
        const { result } = await up(stack);
        assert.equal(result.summary.result, "succeeded");
        for (const pod of await serverPods()) assert.equal(pod.spec.containers[0].image, refs.server);
    });

    timed("6d. a crash-looping server fails `up` within the bounded time, naming the crash; the old pods keep serving", async () => {
        const crashing = JSON.stringify({ hello: { kind: "job", image: refs.hello }, server: { replicas: 2, ...SERVER_PROBES, image: refs.server, args: ["-no-such-flag"] } });
        await stack.setAllConfig({ "dockyard:apps": { value: crashing }, "dockyard:readyTimeoutSeconds": { value: String(FAILING_UP_TIMEOUT) } });
        const started = Date.now();
        await assert.rejects(up(stack), (e: Error) => {
            assert.match(e.message, /\[CrashLoopBackOff\] back-off \S+ restarting failed container=server/);
            assert.match(e.message, /Container "server" terminated at \S+ \(Error: exit code 1\)/);
            assert.match(e.message, /timed out waiting to be Ready|failed to fully initialize/);
            return true;
        });
        const seconds = (Date.now() - started) / 1000;
        assert.ok(seconds < FAILING_UP_TIMEOUT + 90, `up gave up after ${seconds} s; readyTimeoutSeconds is ${FAILING_UP_TIMEOUT}`);
        const answer = await probe.requests(await serviceUrl(), 1);
        assert.equal(answer.failures, 0, JSON.stringify(answer));

        await configure();
        assert.equal((await up(stack)).result.summary.result, "succeeded");
    });

    timed("6c. a namespace that already exists is refused before anything is created, and left alone", async () => {
        const taken = `${namespace}-taken`;
        await cluster.kubectlOk(["create", "namespace", taken]);
        const other = await otherStack("e2e-adopt", taken);
        await assert.rejects(other.up({ color: "never" }), /already exists/);
        const state = await other.exportStack();
        const created = (state.deployment.resources ?? []).filter((r: any) => r.type.startsWith("kubernetes:") && r.type !== "pulumi:providers:kubernetes");
        assert.deepEqual(created, [], "nothing is created in a namespace we did not make");
        await other.destroy({ color: "never" });
        await cluster.kubectlOk(["get", "namespace", taken]);
        await other.workspace.removeStack("e2e-adopt");
    });

    timed("6e. objects someone else made under our names, in a namespace we were given: preview and up refuse them by name, nothing is created, destroy leaves them", async () => {
        const teamA = `${namespace}-team-a`;
        await cluster.kubectlOk(["create", "namespace", teamA]);
        // What the issue found adopted and then deleted: a ServiceAccount made by hand, and a Service with other ports.
        await cluster.kubectlOk(["create", "serviceaccount", "server", "-n", teamA]);
        await cluster.kubectlOk(["create", "service", "clusterip", "server", "--tcp=9999:9999", "-n", teamA]);
        const uid = async (kind: string) => (await cluster.getJson(["get", kind, "server", "-n", teamA])).metadata.uid as string;
        const before = { sa: await uid("serviceaccount"), svc: await uid("service") };

        const other = await otherStack("e2e-foreign", teamA, { "dockyard:createNamespace": { value: "false" } });
        const refused = (e: Error) => {
            assert.match(e.message, new RegExp(`- ServiceAccount ${teamA}/server: it has no dockyard.dev/stack annotation: someone else made it`));
            assert.match(e.message, new RegExp(`- Service ${teamA}/server: it has no dockyard.dev/stack annotation`));
            assert.match(e.message, /nothing was created/);
            // hello's objects are free, and not named.
            assert.doesNotMatch(e.message, /\/hello:/);
            return true;
        };
        await assert.rejects(other.preview({ color: "never" }), refused);
        await assert.rejects(other.up({ color: "never" }), refused);
        const state = await other.exportStack();
        const created = (state.deployment.resources ?? []).filter((r: any) => r.type.startsWith("kubernetes:") && r.type !== "pulumi:providers:kubernetes");
        assert.deepEqual(created, [], "nothing in the state");
        const ours = await cluster.getJson(["get", "deployments,jobs,secrets,serviceaccounts,services,poddisruptionbudgets", "-n", teamA, "-l", "app.kubernetes.io/part-of=dockyard"]);
        assert.deepEqual(ours.items, [], "nothing in the cluster");

        await other.destroy({ color: "never" });
        assert.deepEqual({ sa: await uid("serviceaccount"), svc: await uid("service") }, before, "destroy left both, untouched");
        const svc = await cluster.getJson(["get", "service", "server", "-n", teamA]);
        assert.deepEqual(svc.spec.ports.map((p: any) => p.port), [9999]);
        assert.equal(svc.metadata.labels?.["app.kubernetes.io/part-of"], undefined);
        await other.workspace.removeStack("e2e-foreign");
        await cluster.kubectlOk(["delete", "namespace", teamA, "--wait=false"]);
    });


    // Deploys that die: the engine killed with SIGKILL (its whole process tree, as a killed runner) at three
    // points, then `dockyard recover` and `up`.

    /** `dockyard <verb> --stack <name>`, in the engine's project directory, as a person would run it there. */
    function stackTool(verb: "recover" | "drift", stackName: string, ...more: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
        const args = [path.join(repoRoot, "components", "bin", "cli", "main.js"), verb, "--stack", stackName, ...more];
        return run(process.execPath, args, { cwd: engine.workDir, env: { ...engine.env, TS_NODE_PROJECT: path.join(repoRoot, "tsconfig.json") } });
    }
    const recoverStack = (stackName: string, ...more: string[]) => stackTool("recover", stackName, ...more);
    /**
     * recover after this suite killed a deploy of its own: the CLI was the Automation API's, which no dockyard
     * command started, so nothing here proves its lock dead but the suite's word, --force.
     */
    const recoverKilled = (stackName: string) => recoverStack(stackName, "--force");
    const driftCheck = (stackName: string) => stackTool("drift", stackName);

    /** SIGKILL to the running `pulumi up` of a stack and to every process under it (the provider). */
    function killDeploy(stackName: string): number[] {
        const procs = fs.readdirSync("/proc").flatMap((pid) => {
            try {
                const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
                const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
                return [{ pid: Number(pid), ppid, argv: fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0") }];
            } catch {
                return [];
            }
        });
        const cli = procs.find((p) => path.basename(p.argv[0]) === "pulumi" && p.argv.includes("up") && p.argv.some((a) => a.endsWith(stackName)));
        assert.ok(cli, `a running pulumi up of ${stackName}`);
        const tree = [cli.pid];
        for (let i = 0; i < tree.length; i++) tree.push(...procs.filter((p) => p.ppid === tree[i]).map((p) => p.pid));
        for (const pid of tree) process.kill(pid, "SIGKILL");
        return tree;
    }

    /** The Kubernetes objects in a namespace that name the stack, and those its state holds: `Kind/name`. */
    async function stackObjects(on: automation.Stack, ns: string): Promise<{ cluster: string[]; state: string[]; pending: unknown[] }> {
        const kinds = "deployments,jobs,configmaps,secrets,serviceaccounts,services,poddisruptionbudgets,horizontalpodautoscalers,networkpolicies";
        const owner = `dockyard/${on.name}`;
        const listed = await cluster.getJson(["get", kinds, "-n", ns]);
        const inCluster = listed.items.filter((o: any) => o.metadata.annotations?.["dockyard.dev/stack"] === owner && !o.metadata.deletionTimestamp);
        const state = (await on.exportStack()).deployment;
        const inState = (state.resources ?? []).filter((r: any) => r.type.startsWith("kubernetes:") && r.outputs?.metadata?.namespace === ns);
        return {
            cluster: inCluster.map((o: any) => `${o.kind}/${o.metadata.name}`).sort(),
            state: inState.map((r: any) => `${r.type.split(":")[2]}/${r.outputs.metadata.name}`).sort(),
            pending: state.pending_operations ?? [],
        };
    }

    /** After recover and up: nothing pending, the state holds exactly the stack's objects, a preview changes nothing. */
    async function assertConverged(on: automation.Stack, ns: string): Promise<void> {
        const objects = await stackObjects(on, ns);
        assert.deepEqual(objects.pending, [], "no pending operations");
        assert.ok(objects.state.length > 0, "the state holds the stack's objects");
        assert.deepEqual(objects.state, objects.cluster, "the state's objects are the cluster's objects that name the stack");
        const preview = await on.preview({ expectNoChanges: true, color: "never" });
        assert.deepEqual(Object.keys(preview.changeSummary), ["same"]);
    }

    /** recover's report after a kill: the dead deploy's lock removed, the stack deployable. */
    function assertRecovered(r: { code: number; stdout: string; stderr: string }): void {
        assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
        assert.match(r.stdout, new RegExp(`removed the lock of pid \\d+ of \\S+@${os.hostname()} \\(since \\S+\\): that deploy is not running`));
        assert.match(r.stdout, /is deployable: \d+ pending operation\(s\) resolved/);
        console.log(`      recover: ${r.stdout.trim().split("\n").join(" | ")}`);
    }

    timed("K1. a deploy killed while server rolls: recover, then up, converge, with zero failed requests", async () => {
        const { loop, update: dying } = await startRollout("k1");
        killDeploy(stack.name);
        await assert.rejects(dying);
        const unproven = await recoverStack(stack.name);
        assert.equal(unproven.code, 1, unproven.stdout);
        assert.match(unproven.stderr, /which does not run in this pid namespace, but no dockyard command here started it/);
        assertRecovered(await recoverKilled(stack.name));
        assert.equal((await up(stack)).result.summary.result, "succeeded");
        await rolledOut();
        const summary = await loop.stop();
        assert.ok(summary.requests > 50, `the loop ran: ${JSON.stringify(summary)}`);
        assert.equal(summary.failures, 0, `failed requests: ${JSON.stringify(summary)}`);
        await assertConverged(stack, namespace);
    });

    timed("K2. a deploy killed while the new hello Job runs: recover takes the Job back, up converges", async () => {
        refs.hello = await pushApp("hello", "k2");
        await configure();
        const loop = await probe.loop(await serviceUrl());
        const dying = up(stack);
        dying.catch(() => undefined);
        await waitUntil("the new Job to exist", 120_000, async () => {
            const job = await cluster.getJson(["get", "jobs", "-n", namespace]);
            return job.items.some((j: any) => j.metadata.name === "hello" && j.spec.template.spec.containers[0].image === refs.hello) ? true : undefined;
        });
        killDeploy(stack.name);
        await assert.rejects(dying);
        const r = await recoverKilled(stack.name);
        assertRecovered(r);
        assert.match(r.stdout, new RegExp(`took Job ${namespace}/hello into the state: a dead run of this stack made it`));
        // The Job taken back carries the inputs its create was given (the new image): the next up leaves it be,
        // and it does not run a second time.
        const next = await up(stack);
        assert.equal(next.result.summary.result, "succeeded");
        assert.deepEqual(next.ops.filter((op) => op.endsWith(":Job")), [], next.ops.join(", "));
        const job = await cluster.getJson(["get", "job", "hello", "-n", namespace]);
        assert.equal(job.spec.template.spec.containers[0].image, refs.hello);
        assert.ok(job.status.succeeded >= 1, "the Job completed");
        assert.equal((await loop.stop()).failures, 0);
        await assertConverged(stack, namespace);
    });

    timed("K3. a first up killed right after it made the namespace: recover takes the namespace back, up converges", async () => {
        const freshNamespace = `${namespace}-fresh`;
        const other = await otherStack("e2e-fresh", freshNamespace, { "dockyard:apps": { value: appsConfig(refs.server, refs.hello, { replicas: 1 }) } });
        const dying = up(other);
        dying.catch(() => undefined);
        await waitUntil("the namespace to exist", 120_000, async () => ((await cluster.getJson(["get", "namespaces"])).items.some((n: any) => n.metadata.name === freshNamespace) ? true : undefined));
        killDeploy(other.name);
        await assert.rejects(dying);
        const r = await recoverKilled(other.name);
        assertRecovered(r);
        const { result } = await up(other);
        assert.equal(result.summary.result, "succeeded");
        await assertConverged(other, freshNamespace);
        const ns = await cluster.getJson(["get", "namespace", freshNamespace]);
        assert.equal(ns.metadata.annotations["dockyard.dev/stack"], "dockyard/e2e-fresh");
        // Destroyed with the others, at the end.
        fresh = other;
    });

    timed("K4. a Docker stack in the same S3 store: recover refuses a live lock, deletes a dead one and clears a pending create, the same code path", async () => {
        const { root, put } = store!;
        const docker = await engine.workspace("e2e-docker", () => program());
        await docker.setAllConfig({ "dockyard:target": { value: "docker" }, "dockyard:apps": { value: JSON.stringify({ server: {} }) } });
        // The state as a second Ctrl-C leaves it, written into the bucket as the engine writes its checkpoint: a
        // container's create pending (`stack import` would drop it).
        await docker.importStack(await docker.exportStack());
        const checkpointKey = ".pulumi/stacks/dockyard/e2e-docker.json";
        const checkpoint = JSON.parse(fs.readFileSync(path.join(root, checkpointKey), "utf8"));
        const urn = "urn:pulumi:e2e-docker::dockyard::dockyard:index:GoApp$dockyard:docker:DockerWorkload$docker:index/container:Container::server-workload-container";
        checkpoint.checkpoint.latest.pending_operations = [{ resource: { urn, custom: true, type: "docker:index/container:Container" }, type: "creating" }];
        await put(checkpointKey, JSON.stringify(checkpoint));
        // Locks as the CLI writes them into the bucket: one whose process runs, then one whose process is gone.
        const lockKey = (name: string) => `.pulumi/locks/organization/dockyard/e2e-docker/${name}.json`;
        const locks = path.join(root, path.dirname(lockKey("x")));
        const lock = (pid: number) => JSON.stringify({ pid, username: os.userInfo().username, hostname: os.hostname(), timestamp: "2026-12-06T03:17:00Z" });
        await put(lockKey("live"), lock(process.pid));
        const refused = await recoverStack("e2e-docker");
        assert.equal(refused.code, 1, refused.stdout);
        assert.match(refused.stderr, new RegExp(`stack e2e-docker was not touched: a deploy is running: pid ${process.pid} of \\S+@${os.hostname()}`));
        assert.ok(fs.existsSync(path.join(locks, "live.json")), "a live holder's lock stays");
        fs.rmSync(path.join(locks, "live.json"));
        const dead = spawnSync("true").pid as number;
        await put(lockKey("dead"), lock(dead));

        const unproven = await recoverStack("e2e-docker");
        assert.equal(unproven.code, 1, unproven.stdout);
        assert.match(unproven.stderr, new RegExp(`locked by pid ${dead} of \\S+@${os.hostname()}, .*no dockyard command here started it`));
        const r = await recoverStack("e2e-docker", "--force");
        assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
        assert.match(r.stdout, new RegExp(`removed the lock of pid ${dead} of \\S+@${os.hostname()}`));
        assert.match(r.stdout, /cleared the pending create of .*server-workload-container: the next up makes it again/);
        assert.match(r.stdout, /stack e2e-docker is deployable: 1 pending operation\(s\) resolved/);
        // The store drops a folder with its last object.
        assert.deepEqual(fs.existsSync(locks) ? fs.readdirSync(locks) : [], [], "the dead lock object is gone from the bucket");
        assert.deepEqual((await docker.exportStack()).deployment.pending_operations ?? [], []);
        assert.match((await recoverStack("e2e-docker")).stdout, /nothing to recover: stack e2e-docker and the engine agree/);
        await docker.workspace.removeStack("e2e-docker");
    });

    timed("D1. drift: a kubectl scale and a kubectl set env on staging are named by field; the next up puts both back", async () => {
        await cluster.kubectlOk(["scale", "deployment", "server", "--replicas=3", "-n", namespace]);
        await cluster.kubectlOk(["set", "env", "deployment/server", "SHUTDOWN_TIMEOUT=99s", "-n", namespace]);
        const r = await driftCheck(stack.name);
        assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
        console.log(`      drift: ${r.stdout.trim().split("\n").join(" | ")}`);
        const line = r.stdout.split("\n").find((l) => l.includes(`Deployment ${namespace}/server:`));
        assert.ok(line, r.stdout);
        assert.match(line, /spec\.replicas/);
        assert.match(line, /spec\.template\.spec\.containers\[0\]\.env/);
        assert.match(r.stdout, /1 object\(s\) drifted/, "nothing else is reported");
        // A preview writes no state: the refresh it ran is gone, and the state still says 2 replicas.
        const state = (await stack.exportStack()).deployment.resources.find((x: any) => x.type === "kubernetes:apps/v1:Deployment" && x.outputs.metadata.namespace === namespace);
        assert.equal(state.outputs.spec.replicas, 2);

        // The next up, as Pulumi.yaml's `refresh: always` runs it (the project settings here are the suite's own).
        assert.equal((await stack.up({ refresh: true, color: "never" })).summary.result, "succeeded");
        const deployment = await cluster.getJson(["get", "deployment", "server", "-n", namespace]);
        assert.equal(deployment.spec.replicas, 2);
        assert.equal(deployment.spec.template.spec.containers[0].env.find((e: any) => e.name === "SHUTDOWN_TIMEOUT").value, "10s");
        const clean = await driftCheck(stack.name);
        assert.equal(clean.code, 0, `${clean.stdout}${clean.stderr}`);
        assert.match(clean.stdout, /no drift/);
        await readyServerPods(2, 120_000);
    });

    timed("S1. a secret env value (dockyard:secretEnv): in a Secret the pod references, in no Deployment, state, output or drift report; a new value rolls the pods; a secret inside dockyard:apps is refused by key", async () => {
        const keys = [`e2e-key-${randomBytes(12).toString("hex")}`, `e2e-key-${randomBytes(12).toString("hex")}`];
        const leaked = (text: string) => keys.find((k) => text.includes(k));
        /** server's pods once every one runs with the env Secret `name` in its template, Ready, two of them. */
        const onSecret = (name: string) =>
            waitUntil(`server's pods on Secret ${name}`, 180_000, async () => {
                const pods = (await serverPods()).filter((p) => !p.metadata.deletionTimestamp);
                const ref = (p: any) => p.spec.containers[0].env.find((e: any) => e.name === "API_KEY")?.valueFrom?.secretKeyRef?.name;
                return pods.length === 2 && pods.every((p) => ref(p) === name && isReady(p)) ? pods.map((p) => p.metadata.name as string) : undefined;
            });
        const secretNames: string[] = [];
        let pods: string[] = [];
        for (const key of keys) {
            // As `pulumi config set --secret --path dockyard:secretEnv.server.API_KEY` leaves it: the whole key secret.
            await stack.setConfig("dockyard:secretEnv", { value: JSON.stringify({ server: { API_KEY: key } }), secret: true });
            const preview = await stack.preview({ diff: true, color: "never" });
            const events: automation.EngineEvent[] = [];
            const result = await stack.up({ onEvent: (e) => events.push(e), color: "never" });
            assert.equal(result.summary.result, "succeeded");
            const deployment = await cluster.getJson(["get", "deployment", "server", "-n", namespace]);
            const ref = deployment.spec.template.spec.containers[0].env.find((e: any) => e.name === "API_KEY");
            assert.deepEqual(Object.keys(ref).sort(), ["name", "valueFrom"], "a reference, not a value");
            const secret = await cluster.getJson(["get", "secret", ref.valueFrom.secretKeyRef.name, "-n", namespace]);
            assert.equal(Buffer.from(secret.data.API_KEY, "base64").toString(), key, "the Secret holds the value");
            secretNames.push(secret.metadata.name);
            const rolled = await onSecret(secret.metadata.name);
            if (pods.length > 0) assert.deepEqual(rolled.filter((p) => pods.includes(p)), [], "a new value rolled every pod");
            pods = rolled;
            const drift = await driftCheck(stack.name);
            assert.equal(drift.code, 0, `${drift.stdout}${drift.stderr}`);
            const state = JSON.stringify(await stack.exportStack());
            const seen = { preview: preview.stdout + preview.stderr, up: result.stdout + result.stderr, events: JSON.stringify(events), deployment: JSON.stringify(deployment), state, drift: drift.stdout + drift.stderr };
            for (const [where, text] of Object.entries(seen)) assert.equal(leaked(text), undefined, `the value shows in the ${where}`);
        }
        assert.notEqual(secretNames[0], secretNames[1], "a new value, a new Secret");
        assert.equal((await cluster.kubectl(["get", "secret", secretNames[0], "-n", namespace])).code, 1, "the old Secret is gone");

        // The same value set inside dockyard:apps: Pulumi marks all of apps secret, so it is refused by key, before anything changes.
        await stack.removeConfig("dockyard:secretEnv");
        const apps = JSON.parse(appsConfig(refs.server, refs.hello));
        apps.server.env = { ...apps.server.env, API_KEY: keys[1] };
        await stack.setConfig("dockyard:apps", { value: JSON.stringify(apps), secret: true });
        const refused = await stack.preview({ color: "never" }).then(
            () => assert.fail("a secret inside dockyard:apps was previewed"),
            (e: Error) => e.message,
        );
        assert.match(refused, /dockyard:apps: holds a secret value, but Pulumi marks the whole key secret .* dockyard:secretEnv/);
        assert.equal(leaked(refused), undefined, "the refusal prints no value");
        // Back as the steps after it expect: no secret env, the pods on plain values again.
        await configure();
        assert.equal((await up(stack)).result.summary.result, "succeeded");
        await readyServerPods(2, 180_000);
    });

    timed("R1. the registry's password rotated: after config set --secret and up, pods roll onto a new pull Secret with zero failed requests; the old one is gone", async function () {
        if (!cluster.local) this.skip();
        const [before] = await serverPods();
        const oldSecret = before.spec.imagePullSecrets[0].name as string;
        const loop = await probe.loop(await serviceUrl());
        const { server, username } = cluster.info.registry;
        const oldPassword = cluster.info.registry.password;
        cluster.rotateRegistryPassword(randomBytes(16).toString("hex"));
        const answers = async (password: string) => (await fetch(`http://${server}/v2/`, { headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` } })).status;
        assert.deepEqual([await answers(oldPassword), await answers(cluster.info.registry.password)], [401, 200], "the registry refuses the old password");
        // A new image, so the nodes really pull with the new Secret (one they hold already would prove nothing).
        await dockerLogin();
        await pushServer("r1");
        await stack.setConfig("dockyard:registryPassword", { value: cluster.info.registry.password, secret: true });
        await configure();
        assert.equal((await up(stack)).result.summary.result, "succeeded");
        const pods = await rolledOut();
        const summary = await loop.stop();
        assert.ok(summary.requests > 50, `the loop ran: ${JSON.stringify(summary)}`);
        assert.equal(summary.failures, 0, `failed requests: ${JSON.stringify(summary)}`);
        const newSecret = pods[0].spec.imagePullSecrets[0].name as string;
        assert.notEqual(newSecret, oldSecret);
        for (const pod of pods) assert.equal(pod.spec.imagePullSecrets[0].name, newSecret);
        const secret = await cluster.getJson(["get", "secret", newSecret, "-n", namespace]);
        const auth = JSON.parse(Buffer.from(secret.data[".dockerconfigjson"], "base64").toString()).auths[server].auth;
        assert.equal(Buffer.from(auth, "base64").toString(), `${username}:${cluster.info.registry.password}`);
        const gone = await cluster.kubectl(["get", "secret", oldSecret, "-n", namespace]);
        assert.match(gone.stderr, /NotFound/, "the old pull Secret is deleted");
        // The in-cluster client pulls with the new Secret from here on.
        probe = new Probe(cluster, namespace, probeImage, newSecret);
    });

    // More than one machine: both nodes, a drain, a node lost outright, and the autoscaler. The client
    // probe runs pinned to the first node, which stays up throughout.
    const nodes = () => cluster.info.nodes?.map((n) => n.name) ?? [];

    timed("N1. server's two replicas run one on each node", async function () {
        if (nodes().length < 2) this.skip();
        const pods = await readyServerPods(2, 120_000);
        assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), nodes().sort());
    });

    timed("N2. draining a node moves its pod with zero failed requests; the budget refuses the last ready pod meanwhile", async function () {
        if (nodes().length < 2) this.skip();
        const [stay, drained] = nodes();
        const loop = await probe.loop(await serviceUrl(), { node: stay });
        // The node that stays is cordoned too, so the evicted pod's replacement waits unscheduled: a
        // window that does not depend on how fast a pod becomes Ready.
        await cluster.kubectlOk(["cordon", stay]);
        const drain = cluster.kubectl(["drain", drained, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=180s"]);
        try {
            const evicted = await waitUntil(`the server pod on ${drained} to be evicted`, 60_000, async () =>
                (await serverPods()).find((p) => p.spec.nodeName === drained && p.metadata.deletionTimestamp),
            );
            const last = (await serverPods()).filter(isReady);
            assert.equal(last.length, 1, `one ready pod left: ${last.map((p) => p.metadata.name).join(", ")}`);
            assert.equal(last[0].spec.nodeName, stay);
            const refused = await evictionAnswer(last[0].metadata.name);
            assert.notEqual(refused.code, 0, `evicting ${last[0].metadata.name} while ${evicted.metadata.name} is replaced must be refused`);
            assert.match(refused.stderr, /Cannot evict pod as it would violate the pod's disruption budget/);
        } finally {
            await cluster.kubectlOk(["uncordon", stay]);
        }
        const drainResult = await drain;
        assert.equal(drainResult.code, 0, drainResult.stderr);
        const pods = await readyServerPods(2, 120_000, stay);
        const summary = await loop.stop();
        await cluster.kubectlOk(["uncordon", drained]);
        assert.equal(pods.length, 2);
        assert.ok(summary.requests > 100, `the loop ran: ${JSON.stringify(summary)}`);
        assert.equal(summary.failures, 0, `failed requests during the drain: ${JSON.stringify(summary)}`);
    });

    timed("N3. a node lost outright: requests fail only until it is marked not ready; its pod is replaced on the other node", async function () {
        if (!cluster.local || nodes().length < 2) this.skip();
        const [stay, lost] = nodes();
        // Back to one pod on each node: the drain left both on the first. A pod deleted there is recreated
        // where the spread sends it (a rollout restart would also do, but leaves an annotation as drift).
        const crowded = (await serverPods()).filter(isReady);
        if (crowded.every((p) => p.spec.nodeName === stay)) await cluster.kubectlOk(["delete", "pod", crowded[0].metadata.name, "-n", namespace]);
        const before = await waitUntil("one Ready server pod on each node", 120_000, async () => {
            const ready = (await serverPods()).filter(isReady);
            return ready.length === 2 && new Set(ready.map((p) => p.spec.nodeName)).size === 2 ? ready : undefined;
        });
        assert.deepEqual(before.map((p) => p.spec.nodeName).sort(), nodes().sort());
        const loop = await probe.loop(await serviceUrl(), { node: stay });
        const killed = Date.now();
        cluster.node("stop", lost);
        try {
            await waitUntil(`node ${lost} to be marked NotReady`, 120_000, async () => {
                const node = await cluster.getJson(["get", "node", lost]);
                return node.status.conditions.some((c: any) => c.type === "Ready" && c.status !== "True") ? true : undefined;
            });
            const notReadyAfter = (Date.now() - killed) / 1000;
            await readyServerPods(2, 180_000, stay);
            const recoveredAfter = (Date.now() - killed) / 1000;
            const summary = await loop.stop();
            const outage = summary.failures > 0 ? summary.lastFailure! - summary.firstFailure! : 0;
            console.log(
                `      node ${lost} lost: marked NotReady after ${notReadyAfter.toFixed(1)} s; ${summary.failures} of ${summary.requests} requests failed ` +
                    `over ${outage.toFixed(1)} s; 2 Ready pods on ${stay} after ${recoveredAfter.toFixed(1)} s`,
            );
            // The dead node's pod stays an endpoint until the node is marked not ready: failures, then none.
            assert.ok(summary.failures > 0, `requests to the lost node's pod must fail at first: ${JSON.stringify(summary)}`);
            const bound = cluster.info.nodeMonitorGracePeriodSeconds! + 10;
            assert.ok(outage <= bound, `failures lasted ${outage.toFixed(1)} s; the node-monitor grace period (${bound - 10} s) + 10 s bounds them`);
            // Replaced once the node-loss toleration runs out after the node went NotReady, plus a pod start.
            const tolerations = before[0].spec.tolerations.filter((t: any) => t.key.startsWith("node.kubernetes.io/")).map((t: any) => t.tolerationSeconds);
            assert.deepEqual(tolerations, [NODE_LOSS_TOLERATION, NODE_LOSS_TOLERATION]);
            assert.ok(recoveredAfter <= notReadyAfter + NODE_LOSS_TOLERATION + 60, `back to 2 Ready pods after ${recoveredAfter.toFixed(1)} s`);
        } finally {
            cluster.node("start", lost);
        }
        await waitUntil(`node ${lost} to be Ready again`, 120_000, async () => {
            const node = await cluster.getJson(["get", "node", lost]);
            return node.status.conditions.some((c: any) => c.type === "Ready" && c.status === "True") ? true : undefined;
        });
        // The pod the lost node held is gone for good once its kubelet is back to confirm it.
        await waitUntil("the lost node's pod to be gone", 120_000, async () => ((await serverPods()).every((p) => p.spec.nodeName !== lost) ? true : undefined));
    });

    let load: { stop: () => Promise<ProbeSummary> } | undefined;
    // Per pod, on the request rate the cluster's custom metrics adapter serves (the harness's stand-in for
    // prometheus-adapter): far below what the load below sends, so it asks for every pod it may have. And on
    // CPU, from metrics-server, as most autoscalers also do: the HPA follows whichever asks for more.
    const autoscale = { minReplicas: 2, maxReplicas: 4, cpuUtilization: 80, requestsPerSecond: 20 };
    const customMetrics = { "dockyard:customMetrics": JSON.stringify({ requestsPerSecond: "http_requests_per_second" }) };

    timed("N4. autoscale on the request rate and CPU: the HPA scales server out under load, reading Prometheus through the custom metrics API and metrics-server through the resource metrics API, and a refreshed preview shows no changes meanwhile", async function () {
        if (nodes().length < 2) this.skip();
        await configure(customMetrics, { autoscale });
        // From 2 fixed replicas to an autoscaler of at least 2: server-side apply must not reset the count to 1 meanwhile.
        const switched = await sampledServer(up(stack));
        // The Deployment keeps its last count (ignored under the autoscaler): nothing else of it changed, so no update.
        assert.deepEqual(switched.value.ops, ["create kubernetes:autoscaling/v2:HorizontalPodAutoscaler"]);
        console.log(`      during the switch to autoscale (${switched.samples} samples): at least ${switched.fewestSpec} replicas asked for, ${switched.fewestReady} ready`);
        assert.ok(switched.samples > 3 && switched.fewestSpec >= 2 && switched.fewestReady >= 2, `capacity dropped during the switch: ${JSON.stringify(switched)}`);
        const hpa = await cluster.getJson(["get", "hpa", "server", "-n", namespace]);
        assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [2, 4]);
        assert.deepEqual(hpa.spec.metrics, [
            { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } },
            { type: "Pods", pods: { metric: { name: "http_requests_per_second" }, target: { type: "AverageValue", averageValue: "20" } } },
        ]);
        await readyServerPods(2, 120_000);
        // A bounded load: one client, 16 workers without pauses, for at most 10 minutes (stopped in N5).
        const started = Date.now();
        load = await probe.loop(await serviceUrl(), { extraArgs: ["-workers", "16", "-pause", "0s"] });
        // What made it scale: the metrics the autoscaler read at the sync where it first asked for more than 2,
        // as `kubectl describe hpa` shows them. Read later, the new pods' short history lowers the average.
        let seen: any[] | undefined;
        const pods = await waitUntil("the autoscaler to scale server out to 3 or more", 180_000, async () => {
            const status = (await cluster.getJson(["get", "hpa", "server", "-n", namespace])).status;
            if (seen === undefined && status.desiredReplicas > 2) seen = status.currentMetrics;
            const ready = (await serverPods()).filter(isReady);
            return seen && ready.length >= 3 ? ready : undefined;
        });
        console.log(`      scaled out to ${pods.length} Ready pods ${((Date.now() - started) / 1000).toFixed(1)} s after the load started`);
        const rate = parseQuantity(seen?.find((m: any) => m.type === "Pods" && m.pods.metric.name === "http_requests_per_second")?.pods.current.averageValue ?? "");
        assert.ok(rate !== undefined && rate > autoscale.requestsPerSecond, `the autoscaler's view of the request rate per pod: ${JSON.stringify(seen)}`);
        const cpu = seen?.find((m: any) => m.type === "Resource" && m.resource.name === "cpu")?.resource.current.averageUtilization;
        assert.ok(Number.isInteger(cpu) && cpu > 0, `the autoscaler's view of CPU: ${JSON.stringify(seen)}`);
        console.log(`      the autoscaler saw ${rate.toFixed(1)} requests per second per pod (target ${autoscale.requestsPerSecond}) and ${cpu}% CPU`);
        assert.ok(new Set(pods.map((p) => p.spec.nodeName)).size === 2, `spread over both nodes: ${pods.map((p) => p.spec.nodeName).join(", ")}`);
        // A refresh that finds a pod the autoscaler has just added and that is not Ready yet marks the Deployment
        // unhealthy, and the preview then proposes an update to finish it: a real answer, but not drift. So the
        // preview waits for the autoscaler to settle: every replica it asked for available, at its maximum or
        // unchanged for three of its 15 s syncs.
        let asked = { replicas: -1, since: Date.now() };
        const settled = await waitUntil("the autoscaler to settle", 240_000, async () => {
            const deployment = await cluster.getJson(["get", "deployment", "server", "-n", namespace]);
            const desired = (await cluster.getJson(["get", "hpa", "server", "-n", namespace])).status.desiredReplicas;
            const { replicas, updatedReplicas, availableReplicas, observedGeneration } = deployment.status;
            const want = deployment.spec.replicas;
            if (want !== asked.replicas) asked = { replicas: want, since: Date.now() };
            const available =
                observedGeneration === deployment.metadata.generation && desired === want && [replicas, updatedReplicas, availableReplicas].every((n) => n === want);
            return available && (want === autoscale.maxReplicas || Date.now() - asked.since >= 45_000) ? want : undefined;
        });
        console.log(`      settled at ${settled} available replicas`);
        const preview = await stack.preview({ expectNoChanges: true, refresh: true, color: "never" });
        assert.deepEqual(Object.keys(preview.changeSummary), ["same"]);
        assert.ok((await cluster.getJson(["get", "deployment", "server", "-n", namespace])).spec.replicas >= 3, "the preview scaled nothing back");
    });

    timed("N5. a new server image rolls with zero failed requests while scaled out; without load it scales back in", async function () {
        if (!load) this.skip();
        const replicas = (await cluster.getJson(["get", "deployment", "server", "-n", namespace])).spec.replicas;
        assert.ok(replicas >= 3, `scaled out: ${replicas}`);
        await pushServer("v5");
        await configure(customMetrics, { autoscale });
        const measured = await probe.loop(await serviceUrl());
        const { ops } = await up(stack);
        assert.deepEqual(ops, ["update kubernetes:apps/v1:Deployment"]);
        await waitUntil("the old server pods to be gone", 180_000, async () => {
            const current = await serverPods();
            return current.length >= 3 && current.every((p) => p.spec.containers[0].image === refs.server && isReady(p)) ? true : undefined;
        });
        const summary = await measured.stop();
        assert.equal(summary.failures, 0, `failed requests during the rollout at ${replicas} replicas: ${JSON.stringify(summary)}`);
        const loadSummary = await load!.stop();
        load = undefined;
        console.log(`      the load: ${loadSummary.requests} requests in ${loadSummary.seconds.toFixed(0)} s, ${loadSummary.failures} failed`);
        const stopped = Date.now();
        // Awaited at the end of P1, which touches only prod: the wait for the autoscaler costs no time of its own.
        scaledIn = waitUntil("the autoscaler to scale back in to 2", 240_000, async () =>
            (await cluster.getJson(["get", "deployment", "server", "-n", namespace])).spec.replicas === 2 ? true : undefined,
        ).then(() => `scaled back in to 2 ${((Date.now() - stopped) / 1000).toFixed(1)} s after the load stopped (stabilisation window 15 s in the suite)`);
        scaledIn.catch(() => undefined);
    });
    let scaledIn: Promise<string> | undefined;

    timed("P1. prod promotes staging's digests: nothing built or pushed, the same image IDs run, provenance shown", async () => {
        consumerRun = consumerScenario();
        edgeRun = edgeScenario();
        // Awaited by W; this only keeps a failure meanwhile from going unhandled.
        edgeRun.catch(() => undefined);
        // Awaited by C1; this only keeps a failure meanwhile from going unhandled.
        consumerRun.catch(() => undefined);
        prod = await otherStack("e2e-prod", prodNamespace, {
            "dockyard:readyTimeoutSeconds": { value: "60" },
            "dockyard:promoteFrom": { value: "e2e-staging" },
            "dockyard:apps": { value: JSON.stringify({ hello: { kind: "job" }, server: { replicas: 2, ...SERVER_PROBES } }) },
        });
        const pushedBefore = await registryContents();
        await up(prod!);
        assert.deepEqual(await registryContents(), pushedBefore, "a promotion pushes nothing");
        const state = await prod.exportStack();
        assert.deepEqual((state.deployment.resources ?? []).filter((r: any) => r.type.startsWith("docker:")), [], "a promotion builds nothing");
        for (const app of ["server", "hello"] as const) {
            const running = await imageIds(prodNamespace, app);
            // What the node resolved is the digest staging deployed, byte for byte.
            assert.deepEqual(running, [refs[app]], `${app} runs in prod exactly the image staging deployed`);
        }
        // staging's hello pod may be gone (the drain removed it; a Job's pods go with its TTL): server's are there.
        assert.deepEqual(await imageIds(prodNamespace, "server"), await imageIds(namespace, "server"), "server runs in prod exactly what it runs in staging");
        const deployment = await cluster.getJson(["get", "deployment", "server", "-n", prodNamespace]);
        assert.equal(deployment.metadata.annotations["dockyard.dev/image"], refs.server);
        assert.equal(deployment.metadata.annotations["dockyard.dev/source-commit"], stagingCommit);
        assert.equal((await prod.outputs()).sourceCommit.value, stagingCommit);
        // N5's last check: staging's server back at 2 once its load stopped, before P2 rolls it.
        if (scaledIn) console.log(`      N5: ${await scaledIn}`);
    });

    // P2 configures staging back to a fixed count of 2, which also drops the autoscaler of N4.
    timed("P2. a new staging server, promoted, rolls only the server in prod", async () => {
        const helloJob = (await cluster.getJson(["get", "job", "hello", "-n", prodNamespace])).metadata.uid;
        const serverBefore = await imageIds(prodNamespace, "server");
        await pushServer("v4");
        stagingCommit = "e2e0000000000002";
        await configure();
        // Staging's server goes back from the autoscaler (N4, N5) to 2 fixed replicas, rolling a new image meanwhile.
        const back = await sampledServer(up(stack));
        console.log(`      back to fixed replicas (${back.samples} samples): at least ${back.fewestSpec} asked for, ${back.fewestReady} ready`);
        assert.ok(back.samples > 3 && back.fewestSpec >= 2 && back.fewestReady >= 2, `capacity dropped on the switch back: ${JSON.stringify(back)}`);
        await up(prod!);
        const serverAfter = await waitUntil("prod's old server pods to be gone", 120_000, async () => {
            const ids = await imageIds(prodNamespace, "server");
            return ids.length === 1 && ids[0] !== serverBefore[0] ? ids : undefined;
        });
        assert.deepEqual(serverAfter, await imageIds(namespace, "server"));
        assert.equal((await cluster.getJson(["get", "job", "hello", "-n", prodNamespace])).metadata.uid, helloJob, "hello, unchanged in staging, is not re-run in prod");
        const live = (await serverPods(prodNamespace)).filter((p) => !p.metadata.deletionTimestamp);
        assert.equal(live.length, 2);
        for (const pod of live) assert.equal(pod.spec.containers[0].image, refs.server);
    });

    timed("P3. a pinned digest rolls prod back, whatever staging runs", async () => {
        const previous = refsHistory.server.at(-2)!;
        await prod!.setConfig("dockyard:apps", { value: JSON.stringify({ hello: { kind: "job" }, server: { replicas: 2, ...SERVER_PROBES, image: previous } }) });
        const { ops } = await up(prod!);
        assert.ok(ops.includes("update kubernetes:apps/v1:Deployment"), ops.join(", "));
        const pods = await waitUntil("prod's server pods to run the pinned digest", 120_000, async () => {
            const current = (await serverPods(prodNamespace)).filter((p) => !p.metadata.deletionTimestamp);
            return current.length === 2 && current.every((p) => p.spec.containers[0].image === previous && p.status.containerStatuses?.[0]?.ready) ? current : undefined;
        });
        assert.ok(pods[0].status.containerStatuses[0].imageID.endsWith(previous.split("@")[1]));
        assert.notDeepEqual(await imageIds(prodNamespace, "server"), await imageIds(namespace, "server"));
    });

    // Someone else's app, as the component package's users bring theirs: test/fixtures/greeter listens on
    // 9090, routes `GET /` exactly, has no HEALTHCHECK and no health paths. A program of its own uses GoApp
    // directly with a prebuilt image, in a namespace it makes.
    function greeterProgram(kubernetes: Record<string, unknown> = {}, env: Record<string, string> = {}): automation.PulumiFn {
        return async () => {
            const { server, username, password } = cluster.info.registry;
            const ns = new k8s.core.v1.Namespace("greeter-namespace", {
                metadata: { name: greeterNamespace, labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
            });
            const app = new GoApp("greeter", {
                target: "kubernetes",
                port: 9090,
                env,
                image: { ref: refs.greeter, registry: { server, username, password: pulumi.secret(password) } },
                kubernetes: { namespace: ns.metadata.name, readyTimeoutSeconds: 30, ...kubernetes },
            });
            return { endpoint: app.endpoint };
        };
    }

    /** What greeter's Service answers from inside its namespace, pulling the probe with `pod`'s pull Secret. */
    async function greeterAnswers(pod: any, count: number): Promise<ProbeSummary> {
        const svc = await cluster.getJson(["get", "service", "greeter", "-n", greeterNamespace]);
        const greeterProbe = new Probe(cluster, greeterNamespace, probeImage, pod.spec.imagePullSecrets[0].name);
        return greeterProbe.requests(`http://${svc.spec.clusterIP}:9090/`, count);
    }

    timed("O1. an outside app with the default args: TCP probes on its own port, pods Ready, its Service answers", async () => {
        greeter = await engine.workspace("e2e-greeter", greeterProgram());
        const { result } = await up(greeter);
        assert.equal(result.summary.result, "succeeded");
        assert.equal(result.outputs.endpoint.value, `greeter.${greeterNamespace}.svc.cluster.local:9090`);
        const [pod] = (await cluster.getJson(["get", "pods", "-n", greeterNamespace, "-l", "app.kubernetes.io/name=greeter"])).items;
        assert.ok(isReady(pod), "the greeter pod is Ready");
        const [c] = pod.spec.containers;
        assert.deepEqual([c.readinessProbe.tcpSocket, c.livenessProbe.tcpSocket], [{ port: "http" }, { port: "http" }]);
        assert.deepEqual(c.ports.map((p: any) => p.containerPort), [9090]);
        assert.equal(pod.status.containerStatuses[0].restartCount, 0);
        const answers = await greeterAnswers(pod, 3);
        assert.equal(answers.failures, 0, JSON.stringify(answers));
        for (const body of answers.bodies!) assert.equal(body.trim(), "Hello from greeter");
    });

    timed("O1b. a slow starter (it listens only 20 s after it starts) becomes Ready without a restart: the startup probe waits for it", async () => {
        greeter = await engine.workspace("e2e-greeter", greeterProgram({ readyTimeoutSeconds: 60 }, { START_DELAY: "20s" }));
        const { result } = await up(greeter);
        assert.equal(result.summary.result, "succeeded");
        const pods = (await cluster.getJson(["get", "pods", "-n", greeterNamespace, "-l", "app.kubernetes.io/name=greeter"])).items;
        // The new pod; O1's may still be terminating.
        const [pod] = pods.filter((p: any) => isReady(p) && !p.metadata.deletionTimestamp);
        const [c] = pod.spec.containers;
        assert.deepEqual(c.env.find((e: any) => e.name === "START_DELAY"), { name: "START_DELAY", value: "20s" });
        assert.deepEqual(c.startupProbe.tcpSocket, { port: "http" });
        // 60 s to start, checked every 2 s: the liveness probe alone would have restarted it after 3 failed checks.
        assert.equal(c.startupProbe.failureThreshold, 30);
        assert.equal(pod.status.containerStatuses[0].restartCount, 0, "never restarted");
        const started = Date.parse(pod.status.containerStatuses[0].state.running.startedAt);
        const ready = Date.parse(pod.status.conditions.find((x: any) => x.type === "Ready").lastTransitionTime);
        // Both are kept to the second.
        assert.ok(ready - started >= 19_000, `Ready ${(ready - started) / 1000} s after the start: it waited for the app`);
        assert.match(await cluster.kubectlOk(["logs", pod.metadata.name, "-n", greeterNamespace]), /greeter starting: listening in 20s/);
        const answers = await greeterAnswers(pod, 1);
        assert.equal(answers.failures, 0, JSON.stringify(answers));
    });

    timed("O2. a health path the app does not serve fails `up`, naming the probe and the arg; the running pod keeps serving", async () => {
        const events: automation.EngineEvent[] = [];
        greeter = await engine.workspace("e2e-greeter", greeterProgram({ readinessPath: "/readyz", readyTimeoutSeconds: 10 }));
        await assert.rejects(greeter.up({ onEvent: (e) => events.push(e), color: "never" }), /greeter/);
        const said = events.flatMap((e) => (e.diagnosticEvent?.severity === "error" ? [e.diagnosticEvent.message] : [])).join("\n");
        assert.match(said, /greeter: its pods did not become Ready: the readiness probe is HTTP GET \/readyz on port 9090, which must answer 2xx or 3xx \(readinessPath sets the path/);
        const events404 = await cluster.kubectlOk(["get", "events", "-n", greeterNamespace, "--field-selector", "reason=Unhealthy", "-o", "jsonpath={.items[*].message}"]);
        assert.match(events404, /Readiness probe failed: HTTP probe failed with statuscode: 404/);
        const ready = (await cluster.getJson(["get", "pods", "-n", greeterNamespace, "-l", "app.kubernetes.io/name=greeter"])).items.filter(isReady);
        assert.equal(ready.length, 1, "the pod from O1 is still the Ready one");
        const answer = await greeterAnswers(ready[0], 1);
        assert.equal(answer.failures, 0, JSON.stringify(answer));
        assert.equal((await greeter.destroy({ color: "never" })).summary.result, "succeeded");
        await greeter.workspace.removeStack("e2e-greeter");
        greeter = undefined;
    });

    /** The packed package and the SDKs, installed into a project folder of their own (started with the setup). */
    async function installConsumer(dir: string): Promise<string> {
        const installed = (pkg: string) => JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", pkg, "package.json"), "utf8")).version;
        const npm = async (args: string[], cwd: string) => {
            const r = await run("npm", args, { cwd });
            if (r.code !== 0) throw new Error(`npm ${args.join(" ")}: ${r.stderr}`);
            return r.stdout;
        };
        const packed = JSON.parse(await npm(["pack", "--json", "--pack-destination", dir], path.join(repoRoot, "components")));
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, main: "index.js" }));
        const sdks = ["@pulumi/pulumi", "@pulumi/docker", "@pulumi/kubernetes"].map((pkg) => `${pkg}@${installed(pkg)}`);
        await npm(["install", "--no-audit", "--no-fund", "--prefer-offline", path.join(dir, packed[0].filename), ...sdks], dir);
        return dir;
    }

    /**
     * A team's own project, as it would start: the component package installed from its packed tarball beside
     * the SDKs, the greeter app, a program of its own, and its own stack and state. It deploys through its own
     * Automation API (no language host here), so the SDK it runs is the one the package was installed beside.
     */
    async function consumerProject(stackName: string, ns: string): Promise<{ dir: string; env: NodeJS.ProcessEnv; deploy: (verb: "up" | "destroy") => ReturnType<typeof run>; dockyard: (...args: string[]) => ReturnType<typeof run> }> {
        const dir = await consumerInstalled;
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: consumer\nruntime: nodejs\n");
        const { server, username } = cluster.info.registry;
        const config = { "consumer:image": refs.greeter, "consumer:namespace": ns, "consumer:registryServer": server, "consumer:registryUser": username };
        fs.writeFileSync(path.join(dir, `Pulumi.${stackName}.yaml`), `config:\n${Object.entries(config).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join("\n")}\n`);
        fs.writeFileSync(
            path.join(dir, "index.js"),
            `const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const { GoApp } = require("@dockyard/components");
module.exports = async () => {
    const config = new pulumi.Config("consumer");
    const ns = new k8s.core.v1.Namespace("namespace", { metadata: { name: config.require("namespace"), labels: { "pod-security.kubernetes.io/enforce": "restricted" } } });
    const registry = { server: config.require("registryServer"), username: config.require("registryUser"), password: pulumi.secret(process.env.REGISTRY_PASSWORD) };
    const app = new GoApp("greeter", { target: "kubernetes", port: 9090, env: { START_DELAY: "5s" }, image: { ref: config.require("image"), registry }, kubernetes: { namespace: ns.metadata.name, readyTimeoutSeconds: 60 } });
    return { endpoint: app.endpoint };
};
`,
        );
        fs.writeFileSync(
            path.join(dir, "deploy.js"),
            `const automation = require("@pulumi/pulumi/automation");
const [verb, stackName] = process.argv.slice(2);
automation.LocalWorkspace.createOrSelectStack({ stackName, projectName: "consumer", program: require("./index.js") }, { workDir: __dirname })
    .then((stack) => (verb === "destroy" ? stack.destroy() : stack.up()))
    .then((r) => console.log(r.summary.result), (e) => { console.error(e.message); process.exit(1); });
`,
        );
        fs.mkdirSync(path.join(dir, "state"));
        const env = { ...engine.env, PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, REGISTRY_PASSWORD: cluster.info.registry.password };
        return {
            dir,
            env,
            deploy: (verb) => run(process.execPath, ["deploy.js", verb, stackName], { cwd: dir, env }),
            dockyard: (...args) => run(path.join(dir, "node_modules", ".bin", "dockyard"), args, { cwd: dir, env }),
        };
    }

    /**
     * C1's scenario: it runs beside the P and O steps (its own project, stack, state and namespace; nothing of
     * theirs is touched), so its waits cost the suite no time of their own. C1 awaits it.
     */
    async function consumerScenario(): Promise<void> {
        const ns = `${namespace}-consumer`;
        const consumer = await consumerProject("c1", ns);
        try {
            const help = await consumer.dockyard("--help");
            assert.equal(help.code, 0, help.stderr);
            assert.match(help.stdout, /^ {2}recover\s/m);
            // The first up, killed while greeter waits to be Ready (it listens 5 s after it starts).
            const first = consumer.deploy("up");
            await waitUntil("greeter's Deployment to exist", 120_000, async () => ((await cluster.kubectl(["get", "deployment", "greeter", "-n", ns])).code === 0 ? true : undefined));
            killDeploy("c1");
            assert.notEqual((await first).code, 0);
            const refused = await consumer.deploy("up");
            assert.notEqual(refused.code, 0);
            assert.match(refused.stderr, /currently locked by 1 lock/);

            // The killed CLI was one this suite started, not a dockyard command: --force, as its owner would.
            const recovered = await consumer.dockyard("recover", "--stack", "c1", "--force");
            assert.equal(recovered.code, 0, `${recovered.stdout}${recovered.stderr}`);
            assert.match(recovered.stdout, /removed the lock of pid \d+ .*: that deploy is not running/);
            assert.match(recovered.stdout, new RegExp(`took Deployment ${ns}/greeter into the state: a dead run of this stack made it`));
            const up1 = await consumer.deploy("up");
            assert.equal(up1.code, 0, up1.stderr);
            assert.match(up1.stdout, /succeeded/);

            const clean = await consumer.dockyard("drift", "--stack", "c1");
            assert.equal(clean.code, 0, `${clean.stdout}${clean.stderr}`);
            assert.match(clean.stdout, /stack c1: no drift/);
            // A value the program sets, changed by hand (a field only someone else set would stay theirs).
            await cluster.kubectlOk(["set", "env", "deployment/greeter", "-n", ns, "START_DELAY=6s"]);
            const drifted = await consumer.dockyard("drift", "--stack", "c1");
            assert.equal(drifted.code, 1, `${drifted.stdout}${drifted.stderr}`);
            assert.match(drifted.stdout, new RegExp(`^  Deployment ${ns}/greeter: spec\\.template\\.spec\\.containers\\[0\\]\\.env`, "m"));
            assert.match(drifted.stdout, /1 object\(s\) drifted/);
        } finally {
            const down = await consumer.deploy("destroy");
            assert.equal(down.code, 0, down.stderr);
        }
    }

    let consumerRun: Promise<void> | undefined;

    timed("C1. a team's own project with the packed package: `dockyard recover` frees the stack a killed up left, `dockyard drift` names a hand edit", async () => {
        await (consumerRun ?? consumerScenario());
    });

    /** The way in (W steps): a stack of its own, its Gateway, certificate and route, with the controllers' stand-in. */
    const edgeNamespace = `${namespace}-edge`;
    const edgeHost = `server.${edgeNamespace}.dockyard.test`;
    const STAND_IN_CLASS = "dockyard-e2e-stand-in";
    const SUITE_ISSUER = "dockyard-e2e-ca";
    let edge: automation.Stack | undefined;
    /** Runs the edge stack's program: the W steps run beside the P and O steps, so not in this process. */
    let edgeWorker: StackWorker | undefined;
    let standIn: GatewayStandIn | undefined;
    /** The suite's CA, which its ClusterIssuer issues with, and the directory holding its files. */
    let suiteCa: SuiteCa | undefined;
    let caDir: string | undefined;
    /** Local cluster only: where Skipper, the suite's ingress proxy, listens once W5 started it. */
    let ingressProxy: { address: string; port: number } | undefined;

    /** The server image the edge stack runs throughout: the P steps beside it push new ones meanwhile. */
    let edgeImage: string;
    /** The env W6's rolling update gave the edge stack's server, kept by the steps after it. */
    let edgeEnv: Record<string, string> | undefined;
    /** Its probes and metrics, scraped as a cluster with the Prometheus Operator would: through a ServiceMonitor. */
    const EDGE_PROBES = { ...SERVER_PROBES, metrics: { ...metrics, scrape: "serviceMonitor" } };
    /** The edge stack's server once it is routed: staging's server, one replica, at `edgeHost`. */
    const edgeServer = (more: Record<string, unknown> = {}) => ({ ...EDGE_PROBES, replicas: 1, route: { hosts: [edgeHost] }, image: edgeImage, env: edgeEnv, ...more });

    /** The edge stack's config: staging's server, one replica, routed through `gateway`. */
    async function configureEdge(gateway: Record<string, unknown>, route: Record<string, unknown> = { hosts: [edgeHost] }, timeout = 60): Promise<void> {
        await edge!.setAllConfig({
            "dockyard:gateway": { value: JSON.stringify(gateway) },
            "dockyard:readyTimeoutSeconds": { value: String(timeout) },
            "dockyard:apps": { value: JSON.stringify({ server: { ...EDGE_PROBES, replicas: 1, route, image: edgeImage } }) },
        });
    }

    /** W1. a certificate from an issuer that does not exist fails `up` within the bound, naming the issuer; no route is made */
    async function edgeW1(): Promise<void> {
        // What a platform team installs: cert-manager (on the local cluster the real controller; on one's own the
        // stand-in issues), a CA issuer with the suite's CA, and the class its Gateway controller serves.
        caDir = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-e2e-ca-"));
        suiteCa = makeSuiteCa(caDir);
        if (cluster.local) {
            await cluster.certManager("start");
            await cluster.kubectlOk(["create", "secret", "tls", SUITE_ISSUER, "-n", "cert-manager", "--cert", suiteCa.certFile, "--key", suiteCa.keyFile]);
        }
        await cluster.kubectlOk(["apply", "-f", "-"], [
            JSON.stringify({ apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass", metadata: { name: STAND_IN_CLASS }, spec: { controllerName: STAND_IN_CONTROLLER } }),
            JSON.stringify({ apiVersion: "cert-manager.io/v1", kind: "ClusterIssuer", metadata: { name: SUITE_ISSUER }, spec: { ca: { secretName: SUITE_ISSUER } } }),
        ].join("\n"));
        standIn = new GatewayStandIn(cluster, (ns) => ns.startsWith(namespace), cluster.local ? undefined : suiteCa);
        standIn.start();
        edgeImage = refs.server;
        edge = await otherStack("e2e-edge", edgeNamespace);
        edgeWorker = StackWorker.start(engine, "e2e-edge");
        await configureEdge({ gatewayClassName: STAND_IN_CLASS, issuer: { name: "dockyard-e2e-no-such-issuer" } }, undefined, FAILING_UP_TIMEOUT);
        const started = Date.now();
        await assert.rejects(edgeWorker.up(), (e: Error) => {
            assert.ok(
                e.message.includes(`certificate ${edgeNamespace}/dockyard: not Ready: its issuer ClusterIssuer "dockyard-e2e-no-such-issuer" does not exist; make it, or name an existing one.`),
                e.message,
            );
            return true;
        });
        const seconds = (Date.now() - started) / 1000;
        assert.ok(seconds < FAILING_UP_TIMEOUT + 90, `up gave up after ${seconds} s; readyTimeoutSeconds is ${FAILING_UP_TIMEOUT}`);
        assert.equal((await cluster.kubectlOk(["get", "httproutes,gateways", "-n", edgeNamespace, "-o", "name"])).trim(), "", "nothing waits on a certificate that is not there");
    }

    /**
     * W2. up: the stack's Gateway Programmed with its issued certificate, the route Accepted to the Service, a
     * ServiceMonitor for the metrics, a NetworkPolicy, the https URL as an output
     */
    async function edgeW2(): Promise<void> {
        await configureEdge({ gatewayClassName: STAND_IN_CLASS, issuer: { name: SUITE_ISSUER } });
        const { summary, outputs, ops } = await edgeWorker!.up();
        assert.equal(summary.result, "succeeded");
        // The rest (Deployment, Service, NetworkPolicy) was made by the first up, which only the certificate failed.
        for (const made of ["kubernetes:gateway.networking.k8s.io/v1:Gateway", "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"]) {
            assert.ok(ops.includes(`create ${made}`), `${made} created: ${ops.join(", ")}`);
        }
        assert.equal(outputs.apps.value.server.url, `https://${edgeHost}/`);
        const route = await cluster.getJson(["get", "httproutes.v1.gateway.networking.k8s.io", "server", "-n", edgeNamespace]);
        assert.deepEqual(route.spec.hostnames, [edgeHost]);
        assert.deepEqual(route.spec.rules[0].backendRefs.map((b: any) => `${b.kind}/${b.name}:${b.port}`), ["Service/server:8080"]);
        const parent = route.status.parents.find((p: any) => p.parentRef.name === "dockyard" && p.parentRef.sectionName === "https");
        assert.equal(parent.conditions.find((c: any) => c.type === "Accepted").status, "True");
        const gateway = await cluster.getJson(["get", "gateways.v1.gateway.networking.k8s.io", "dockyard", "-n", edgeNamespace]);
        assert.equal(gateway.status.conditions.find((c: any) => c.type === "Programmed").status, "True");
        assert.deepEqual(gateway.spec.listeners.map((l: any) => `${l.name} ${l.protocol}/${l.port}`), ["https HTTPS/443", "http HTTP/80"]);
        const secret = await cluster.getJson(["get", "secret", "dockyard-tls", "-n", edgeNamespace]);
        const cert = new X509Certificate(Buffer.from(secret.data["tls.crt"], "base64"));
        assert.equal(cert.subjectAltName, `DNS:${edgeHost}`);
        assert.ok(cert.checkIssued(new X509Certificate(suiteCa!.cert)), `issued by the suite's CA, not by ${cert.issuer}`);
        // What the Prometheus Operator reads: the ServiceMonitor, admitted by its real CRD, selects the Service by
        // labels it carries, on the Service port that reaches the metrics.
        const monitor = await cluster.getJson(["get", "servicemonitors.v1.monitoring.coreos.com", "server", "-n", edgeNamespace]);
        const service = await cluster.getJson(["get", "service", "server", "-n", edgeNamespace]);
        for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(service.metadata.labels[key], value, `the Service is labelled ${key}=${value}`);
        assert.deepEqual(monitor.spec.endpoints, [{ port: "metrics", path: metrics.path ?? "/metrics" }]);
        assert.deepEqual(
            service.spec.ports.filter((p: any) => p.name === "metrics").map((p: any) => `${p.port}->${p.targetPort}`),
            [`${metrics.port}->metrics`],
        );
        const policy = await cluster.getJson(["get", "networkpolicy", "server", "-n", edgeNamespace]);
        assert.deepEqual(policy.spec.podSelector.matchLabels, { "app.kubernetes.io/name": "server", "app.kubernetes.io/instance": "server-workload" });
        assert.deepEqual(policy.spec.policyTypes, ["Ingress"]);
    }

    /**
     * E1 (after the W steps, on the edge stack they leave, routed through an Ingress): only that way in, enforced
     * by a real enforcer (kube-router's firewall, started for this step alone: see cluster.sh): a pod of another
     * namespace is refused straight to the server pod while one of its own namespace is answered; once allowFrom
     * names that namespace, the same client, unchanged, is answered
     */
    async function enforced(): Promise<void> {
        const [pod] = (await cluster.getJson(["get", "pods", "-n", edgeNamespace, "-l", "app.kubernetes.io/name=server"])).items;
        const direct = `http://${pod.status.podIP}:${pod.spec.containers[0].ports[0].containerPort}/`;
        // In staging's namespace, started without waiting to be admitted: it is not, until allowFrom names it.
        const outsider = await probe.loop(direct, { admitted: false, extraArgs: ["-workers", "1", "-pause", "200ms"] });
        try {
            const refused = await waitUntil("5 s of the outside client's requests", 30_000, async () => {
                const r = outsider.latest();
                return r.seconds >= 5 ? r : undefined;
            });
            assert.ok(refused.requests >= 10, `the outside client kept asking: ${JSON.stringify(refused)}`);
            assert.equal(refused.failures, refused.requests, `no request from namespace ${namespace} answered: ${JSON.stringify(refused)}`);
            assert.match(refused.errors![0], /connection refused|timeout/, "refused by the network, not by the server");

            const insider = new Probe(cluster, edgeNamespace, probeImage, pod.spec.imagePullSecrets[0].name);
            const answered = await insider.requests(direct, 3);
            assert.equal(answered.failures, 0, `the server's own namespace is answered: ${JSON.stringify(answered)}`);
            assert.match(answered.bodies![2], /^Hello, World! Counter: \d+\n$/);

            await edge!.setConfig("dockyard:apps", { value: JSON.stringify({ server: edgeServer({ networkPolicy: { allowFrom: [{ namespace }] } }) }) });
            const { summary, ops } = await edgeWorker!.up();
            assert.equal(summary.result, "succeeded");
            assert.deepEqual(ops, ["update kubernetes:networking.k8s.io/v1:NetworkPolicy"], "only the policy changed");
            const admitted = await waitUntil(`kube-router admitting namespace ${namespace}`, 30_000, async () => {
                const r = outsider.latest();
                return r.requests > r.failures ? r : undefined;
            });
            const later = await waitUntil("2 s more of the admitted client's requests", 30_000, async () => {
                const r = outsider.latest();
                return r.seconds >= admitted.seconds + 2 ? r : undefined;
            });
            assert.ok(later.requests > admitted.requests, JSON.stringify(later));
            assert.equal(later.failures, admitted.failures, `once admitted, every request answered: ${JSON.stringify(later)}`);
        } finally {
            await outsider.stop();
        }
    }

    /** W3. a second preview shows no changes, and drift reports nothing: the controllers' status fields are not drift */
    async function edgeW3(): Promise<void> {
        const preview = await edgeWorker!.preview();
        assert.deepEqual(Object.keys(preview.changeSummary).filter((k) => k !== "same"), [], JSON.stringify(preview.changeSummary));
        const r = await driftCheck(edge!.name);
        assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /no drift/);
    }

    /** W4. a route to a Gateway that does not exist fails `up` within the bound, naming it; a path with `//` is refused by key before anything, as the API server would refuse it */
    async function edgeW4(): Promise<void> {
        await configureEdge({ name: "dockyard-e2e-nowhere" }, undefined, FAILING_UP_TIMEOUT);
        const started = Date.now();
        await assert.rejects(edgeWorker!.up(), (e: Error) => {
            assert.ok(e.message.includes(`route ${edgeNamespace}/server: not Accepted by Gateway ${edgeNamespace}/dockyard-e2e-nowhere: Gateway ${edgeNamespace}/dockyard-e2e-nowhere does not exist`), e.message);
            return true;
        });
        const seconds = (Date.now() - started) / 1000;
        assert.ok(seconds < FAILING_UP_TIMEOUT + 90, `up gave up after ${seconds} s; readyTimeoutSeconds is ${FAILING_UP_TIMEOUT}`);

        // The API server's own rules refuse the path, as a dry run shows; the program refuses it before that.
        const refused = await cluster.kubectl(["apply", "--dry-run=server", "-f", "-"], JSON.stringify({
            apiVersion: "gateway.networking.k8s.io/v1",
            kind: "HTTPRoute",
            metadata: { name: "dry-run", namespace: edgeNamespace },
            spec: { parentRefs: [{ name: "dockyard" }], rules: [{ matches: [{ path: { type: "PathPrefix", value: "/api//v1" } }] }] },
        }));
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /must not contain '\/\/'/);
        await configureEdge({ gatewayClassName: STAND_IN_CLASS, issuer: { name: SUITE_ISSUER } }, { hosts: [edgeHost], path: "/api//v1" });
        await assert.rejects(edgeWorker!.preview(), /dockyard:apps\.server\.route\.path = "\/api\/\/v1": an absolute path prefix: starts with \/, no '\/\/'/);
    }

    /**
     * W5. the same route as an Ingress (dockyard:ingress instead of dockyard:gateway): the Ingress given an address
     * (on the local cluster, where Skipper, the suite's ingress proxy, serves it), its own Certificate Ready with a
     * Secret for the host, the NetworkPolicy admitting the controller's namespace to the app's port, the Gateway's
     * objects gone; a second preview shows no changes
     */
    async function edgeW5(): Promise<void> {
        const controllerNamespace = `${namespace}-ingress`;
        await cluster.kubectlOk(["apply", "-f", "-"], JSON.stringify({ apiVersion: "networking.k8s.io/v1", kind: "IngressClass", metadata: { name: STAND_IN_CLASS }, spec: { controller: STAND_IN_CONTROLLER } }));
        if (cluster.local) {
            const proxy = await cluster.startIngress(STAND_IN_CLASS, edgeNamespace);
            standIn!.ingressAddress = { ip: proxy.address };
            ingressProxy = proxy;
        }
        await edge!.removeConfig("dockyard:gateway");
        await edge!.setAllConfig({
            "dockyard:ingress": { value: JSON.stringify({ className: STAND_IN_CLASS, controllerNamespace, issuer: { name: SUITE_ISSUER } }) },
            "dockyard:readyTimeoutSeconds": { value: "60" },
            "dockyard:apps": { value: JSON.stringify({ server: edgeServer() }) },
        });
        const { summary, outputs } = await edgeWorker!.up();
        assert.equal(summary.result, "succeeded");
        assert.equal(outputs.apps.value.server.url, `https://${edgeHost}/`);
        const ingress = await cluster.getJson(["get", "ingress", "server", "-n", edgeNamespace]);
        assert.equal(ingress.spec.ingressClassName, STAND_IN_CLASS);
        assert.deepEqual(ingress.spec.tls, [{ hosts: [edgeHost], secretName: "server-tls" }]);
        assert.deepEqual(ingress.spec.rules, [{ host: edgeHost, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "server", port: { number: 8080 } } } }] } }]);
        assert.deepEqual(ingress.status.loadBalancer.ingress, [cluster.local ? { ip: ingressProxy!.address } : { hostname: STAND_IN_ADDRESS }]);
        const certificate = await cluster.getJson(["get", "certificates.v1.cert-manager.io", "server", "-n", edgeNamespace]);
        assert.equal(certificate.status.conditions.find((c: any) => c.type === "Ready").status, "True");
        const secret = await cluster.getJson(["get", "secret", "server-tls", "-n", edgeNamespace]);
        const cert = new X509Certificate(Buffer.from(secret.data["tls.crt"], "base64"));
        assert.equal(cert.subjectAltName, `DNS:${edgeHost}`);
        assert.ok(cert.checkIssued(new X509Certificate(suiteCa!.cert)), `issued by the suite's CA, not by ${cert.issuer}`);
        const policy = await cluster.getJson(["get", "networkpolicy", "server", "-n", edgeNamespace]);
        assert.deepEqual(policy.spec.ingress[1], { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": controllerNamespace } } }], ports: [{ port: "http", protocol: "TCP" }] });
        assert.equal((await cluster.kubectlOk(["get", "httproutes,gateways", "-n", edgeNamespace, "-o", "name"])).trim(), "", "the Gateway's objects are gone");
        const preview = await edgeWorker!.preview();
        assert.deepEqual(Object.keys(preview.changeSummary).filter((k) => k !== "same"), [], JSON.stringify(preview.changeSummary));
    }

    /**
     * The W steps, one after another: they run beside the P and O steps (their own stack, namespace and objects;
     * the GatewayClass and ClusterIssuer are the suite's), so their waits cost the suite no time of their own.
     */
    async function edgeScenario(): Promise<string[]> {
        const took: string[] = [];
        for (const [title, step] of [
            ["W1", edgeW1],
            ["W2", edgeW2],
            ["W3", edgeW3],
            ["W4", edgeW4],
            ["W5", edgeW5],
        ] as const) {
            const started = Date.now();
            await step();
            took.push(`${title} ${((Date.now() - started) / 1000).toFixed(1)} s`);
        }
        return took;
    }
    let edgeRun: Promise<string[]> | undefined;

    timed("W. the way in (W1-W5): a missing issuer and a missing Gateway fail `up` by name; the Gateway, certificate, route and NetworkPolicy admitted and ready; no drift; the same route as an Ingress", async () => {
        console.log(`      ${(await (edgeRun ?? edgeScenario())).join(", ")}`);
    });

    /**
     * W6 (local cluster: Skipper runs there). What a user of the route sees, through a real proxy: the stack's URL
     * answers over HTTPS, the certificate verified against the suite's CA (and refused by a client that trusts
     * only the usual roots); then a rolling update, made by `up`, under a request loop through the proxy: no
     * request fails, and the new pod answers.
     */
    timed("W6. real HTTPS through the ingress proxy (Skipper): the route's URL answers, verified against the suite's CA; a rolling update under a request loop through it fails no request", async function () {
        if (!cluster.local) this.skip();
        const url = (await edge!.outputs()).apps.value.server.url as string;
        assert.equal(url, `https://${edgeHost}/`);
        const client = new IngressClient(ingressProxy!.port, suiteCa!.cert);
        const untrusting = new IngressClient(ingressProxy!.port, tls.rootCertificates.join("\n"));
        try {
            // Skipper polls its routes every second: the first answer may take a poll.
            const first = await waitUntil(`${url} to answer through Skipper`, 30_000, async () => {
                const r = await client.get(url).catch(() => undefined);
                return r?.status === 200 ? r : undefined;
            });
            assert.match(first.body, /^Hello, World! Counter: \d+\n$/);
            assert.equal(first.servedSan, `DNS:${edgeHost}`);
            await assert.rejects(untrusting.get(url), /unable to verify the first certificate|self-signed certificate in certificate chain/);

            const before = (await cluster.getJson(["get", "pods", "-n", edgeNamespace, "-l", "app.kubernetes.io/name=server"])).items.map((p: any) => p.metadata.name);
            const loop = client.loop(url, 4);
            let summary: LoopSummary;
            try {
                await waitUntil("the loop's first answers", 30_000, async () => (loop.latest().requests > 20 ? true : undefined));
                // A day-two change that rolls the pods: request logs off.
                edgeEnv = { REQUEST_LOG: "off" };
                await edge!.setConfig("dockyard:apps", { value: JSON.stringify({ server: edgeServer() }) });
                const { summary: upSummary, ops } = await edgeWorker!.up();
                assert.equal(upSummary.result, "succeeded");
                assert.deepEqual(ops, ["update kubernetes:apps/v1:Deployment"], "only the Deployment changed");
                // Past the old pod's preStop sleep and shutdown: it is gone, and the loop kept asking meanwhile.
                await waitUntil("the old pod to be gone", 60_000, async () => {
                    const pods = (await cluster.getJson(["get", "pods", "-n", edgeNamespace, "-l", "app.kubernetes.io/name=server"])).items;
                    return pods.every((p: any) => !before.includes(p.metadata.name)) ? true : undefined;
                });
                const gone = loop.latest().requests;
                await waitUntil("2 s more of the loop", 30_000, async () => (loop.latest().requests > gone + 20 ? true : undefined));
            } finally {
                summary = await loop.stop();
            }
            console.log(`      through Skipper during the rollout: ${summary.requests} requests, ${summary.failures} failed`);
            assert.equal(summary.failures, 0, `no request failed: ${JSON.stringify(summary)}`);
            assert.ok(summary.requests > 100, JSON.stringify(summary));
            assert.match(summary.lastBody!, /^Hello, World! Counter: \d+\n$/);
        } finally {
            client.close();
            untrusting.close();
        }
    });

    timed("E1. only that way in, enforced (kube-router): another namespace is refused straight to the server pod, its own is answered; allowFrom admits the same client", async () => {
        cluster.firewall("start");
        try {
            await enforced();
        } finally {
            cluster.firewall("stop");
        }
        // The stack goes in 7, beside the others.
        await Promise.all([
            standIn!.stop(),
            edgeWorker!.stop(),
            ingressProxy && cluster.stopIngress(edgeNamespace),
            cluster.local && cluster.certManager("stop"),
        ]);
        standIn = edgeWorker = ingressProxy = undefined;
        fs.rmSync(caDir!, { recursive: true, force: true });
    });

    timed("7. destroy leaves nothing of either stack, no file in the temp dir; stopping the cluster leaves the host as before", async () => {
        // Each stack has its own lock and namespace: they go at once.
        const others = [greeter, prod, fresh, edge].filter((x): x is automation.Stack => x !== undefined);
        const [{ summary }, ...rest] = await Promise.all([stack, ...others].map((x) => x.destroy({ color: "never" })));
        for (const r of rest) assert.equal(r.summary.result, "succeeded");
        greeter = prod = fresh = edge = undefined;
        // What the W steps made as a platform team would: cluster-wide, so not in any namespace above.
        await cluster.kubectlOk([
            "delete",
            "--ignore-not-found",
            `gatewayclasses.v1.gateway.networking.k8s.io/${STAND_IN_CLASS}`,
            `ingressclasses.v1.networking.k8s.io/${STAND_IN_CLASS}`,
            `clusterissuers.v1.cert-manager.io/${SUITE_ISSUER}`,
        ]);
        assert.equal(summary.result, "succeeded");
        assert.ok((summary.resourceChanges?.delete ?? 0) > 0);
        for (const ns of [namespace, prodNamespace, `${namespace}-fresh`, edgeNamespace]) {
            await waitUntil(`namespace ${ns} to be gone`, 120_000, async () => ((await cluster.kubectl(["get", "namespace", ns])).code !== 0 ? true : undefined));
        }
        const left = await cluster.kubectlOk(["get", "deployments,services,jobs,secrets,serviceaccounts,pdb,networkpolicies,httproutes,gateways,certificates,servicemonitors", "-A", "-l", "app.kubernetes.io/part-of=dockyard", "-o", "name"]);
        assert.equal(left.trim(), "");
        // Every up, preview, refresh, recover and drift above ran with this temp dir: none left a file (the
        // provider copies a kubeconfig it is configured with there, client key included, and never deletes it).
        assert.deepEqual(tempFiles().filter((f) => !tempBefore.has(f)), [], "files the runs above left in the temp dir");
        if (!cluster.local) return;
        cluster.stop();
        assert.deepEqual(hostSnapshot(), hostBefore);
    });
});
