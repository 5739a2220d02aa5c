// server's metrics as a team reads them: the image built unchanged and run on a real engine, scraped by a real
// Prometheus (Debian's), queried through its own HTTP API; and its request log, as `docker logs` shows it.
import { strict as assert } from "assert";
import { type ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Janitor, buildApp, dockerOk, ensureEngine, ensureGoBaseImage, freePort, httpGet as get, uniqueName, waitUntil } from "../support/docker";
import { PrometheusApi } from "../support/prometheus";

describe("server's metrics scraped by a real Prometheus", function () {
    this.timeout(300_000);
    const janitor = new Janitor();
    const image = janitor.image(`${uniqueName("dockyard-test/server-metrics")}:test`);
    const container = janitor.container(uniqueName("dockyard-metrics"));
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-prometheus-"));
    let prometheus: ChildProcess | undefined;
    let app = "";
    let query = "";

    /** The value of a PromQL expression that returns one sample, once Prometheus has one; undefined until then. */
    async function sample(expr: string): Promise<number | undefined> {
        const result = await new PrometheusApi(query).query(expr);
        return result.length === 1 ? result[0].value : undefined;
    }

    before(async () => {
        await ensureEngine();
        const goImage = await ensureGoBaseImage(janitor);
        await buildApp("server", image, goImage);
        // As DockerWorkload runs it with metrics: both ports on loopback, the metrics one on a port of its own.
        await dockerOk(["run", "-d", "--name", container, "--read-only", "--cap-drop", "ALL", "-e", "METRICS_PORT=9102", "-p", "127.0.0.1::8080", "-p", "127.0.0.1::9102", image]);
        const published = async (port: number) => (await dockerOk(["port", container, `${port}/tcp`])).trim().split("\n")[0].split(":").pop();
        app = `http://127.0.0.1:${await published(8080)}`;
        const metrics = `127.0.0.1:${await published(9102)}`;
        const listen = await freePort();
        query = `http://127.0.0.1:${listen}`;
        fs.writeFileSync(
            path.join(work, "prometheus.yml"),
            `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: server\n    metrics_path: /metrics\n    static_configs:\n      - targets: ["${metrics}"]\n`,
        );
        const args = [`--config.file=${path.join(work, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(work, "data")}`, `--web.listen-address=127.0.0.1:${listen}`];
        prometheus = spawn("prometheus", args, { stdio: "ignore" });
        prometheus.on("error", () => undefined);
        await waitUntil("Prometheus to be ready", 30_000, async () => ((await get(`${query}/-/ready`).catch(() => undefined))?.status === 200 ? true : undefined));
        await waitUntil("server to answer", 30_000, async () => ((await get(`${app}/healthz`).catch(() => undefined))?.status === 200 ? true : undefined));
    });

    after(async () => {
        prometheus?.kill("SIGTERM");
        await janitor.clean();
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("Prometheus scrapes the metrics port and sees every request by route and code, and the counter", async () => {
        for (let i = 0; i < 5; i++) assert.equal((await get(`${app}/`)).status, 200);
        assert.equal((await get(`${app}/missing`)).status, 404);
        assert.equal((await get(`${app}/metrics`)).status, 404, "the app's own port does not serve the metrics");

        assert.equal(await waitUntil("the target to be up", 30_000, () => sample('up{job="server"}').then((v) => (v === 1 ? v : undefined))), 1);
        const hellos = await waitUntil("5 greetings to be scraped", 30_000, () => sample('http_requests_total{job="server",route="/",method="GET",code="200"}').then((v) => (v === 5 ? v : undefined)));
        assert.equal(hellos, 5);
        assert.equal(await sample('hello_counter{job="server"}'), 5);
        // /missing and the app port's /metrics: any unknown path is one series.
        assert.equal(await sample('http_requests_total{job="server",route="other",code="404"}'), 2);
        assert.equal(await sample('http_request_duration_seconds_count{job="server",route="/",method="GET"}'), 5);
        assert.equal(await sample('http_requests_in_flight{job="server"}'), 0);
        assert.ok(((await sample('process_resident_memory_bytes{job="server"}')) ?? 0) > 0, "the process collector reports memory");
    });

    it("writes one JSON line per request, beside its lifecycle lines", async () => {
        const lines = (await dockerOk(["logs", container])).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
        const missing = lines.filter((l) => l.msg === "request" && l.path === "/missing");
        assert.equal(missing.length, 1);
        assert.equal(missing[0].status, 404);
        assert.equal(missing[0].method, "GET");
        assert.match(String(missing[0].remote), /^[\d.]+:\d+$/);
        assert.equal(typeof missing[0].duration_ms, "number");
        assert.deepEqual(
            lines.filter((l) => l.msg !== "request").map((l) => l.msg),
            ["serving metrics", "listening"],
        );
    });
});
