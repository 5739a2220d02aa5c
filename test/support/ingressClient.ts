// A user's client of a route, on this host: HTTPS to `https://<host>/…`, sent to the loopback port that reaches
// the suite's ingress proxy (as curl's --connect-to would), with the host name as SNI and Host, and the server's
// certificate verified against the CA it is given, never skipped.
import * as https from "https";
import type { TLSSocket } from "tls";

export interface IngressAnswer {
    status: number;
    body: string;
    /** The subjectAltName of the certificate the proxy presented. */
    servedSan: string;
}

/** What a loop saw: its requests, those failed (an error or a status other than 200), the first few errors. */
export interface LoopSummary {
    requests: number;
    failures: number;
    errors: string[];
    /** The last body answered. */
    lastBody?: string;
}

export class IngressClient {
    private readonly agent: https.Agent;

    constructor(
        /** The loopback port that reaches the proxy's HTTPS port. */
        private readonly port: number,
        /** The CA (PEM) the served certificate must chain to. */
        ca: string,
    ) {
        this.agent = new https.Agent({ ca, keepAlive: true, maxSockets: 16 });
    }

    get(url: string, timeoutMs = 5000): Promise<IngressAnswer> {
        const u = new URL(url);
        return new Promise((resolve, reject) => {
            const req = https.request(
                { agent: this.agent, host: "127.0.0.1", port: this.port, servername: u.hostname, path: `${u.pathname}${u.search}`, headers: { host: u.host }, timeout: timeoutMs },
                (res) => {
                    const servedSan = (res.socket as TLSSocket).getPeerCertificate().subjectaltname ?? "";
                    let body = "";
                    res.setEncoding("utf8");
                    res.on("data", (d: string) => (body += d));
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, body, servedSan }));
                    res.on("error", reject);
                },
            );
            req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
            req.on("error", reject);
            req.end();
        });
    }

    /** `workers` clients asking `url` in a loop until the returned `stop` is called; it resolves to what they saw. */
    loop(url: string, workers: number): { stop: () => Promise<LoopSummary>; latest: () => LoopSummary } {
        const summary: LoopSummary = { requests: 0, failures: 0, errors: [] };
        let running = true;
        const fail = (why: string) => {
            summary.failures++;
            if (summary.errors.length < 5) summary.errors.push(why);
        };
        const worker = async () => {
            while (running) {
                try {
                    const r = await this.get(url);
                    summary.requests++;
                    if (r.status === 200) summary.lastBody = r.body;
                    else fail(`status ${r.status}: ${r.body.slice(0, 200)}`);
                } catch (e) {
                    summary.requests++;
                    fail((e as Error).message);
                }
            }
        };
        const all = Promise.all(Array.from({ length: workers }, worker));
        return {
            latest: () => ({ ...summary, errors: [...summary.errors] }),
            stop: async () => {
                running = false;
                await all;
                return summary;
            },
        };
    }

    close(): void {
        this.agent.destroy();
    }
}
