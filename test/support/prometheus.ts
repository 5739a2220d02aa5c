// A Prometheus server's HTTP API, as a team reads its numbers: instant queries, each sample with its labels.

/** One sample of an instant vector. */
export interface Sample {
    labels: Record<string, string>;
    value: number;
}

export class PrometheusApi {
    constructor(private readonly url: string) {}

    /** The instant vector `expr` evaluates to now; a query Prometheus refuses throws with its words. */
    async query(expr: string): Promise<Sample[]> {
        const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
        const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
        if (body.status !== "success") throw new Error(`Prometheus refused ${expr}: ${body.error}`);
        if (body.data!.resultType !== "vector") throw new Error(`${expr} is a ${body.data!.resultType}, not an instant vector`);
        return body.data!.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    }
}
