// A client inside the cluster: httploop (test/e2e/tools) in a pod of its own, which meets Pod Security
// "restricted", so the same requests run on the local cluster and on one's own.
import { spawn } from "child_process";
import { type Cluster } from "./cluster";
import { waitUntil } from "./docker";

/** What httploop reports. */
export interface ProbeSummary {
    requests: number;
    failures: number;
    errors: string[] | null;
    bodies?: string[];
    /** Seconds from the start until the first and the last failed request ended. */
    firstFailure?: number;
    lastFailure?: number;
    seconds: number;
    final: boolean;
}

/**
 * A new pod's connections are refused until the cluster's NetworkPolicy enforcer has synced its address; so a
 * client first waits until the server's port accepts one (httploop sends no request then).
 */
const ADMIT = ["-admit", "30s"];

let probes = 0;

export class Probe {
    constructor(
        private readonly cluster: Cluster,
        private readonly namespace: string,
        /** The probe image by digest. */
        private readonly image: string,
        /** A pull Secret in the namespace that can pull `image`. */
        private readonly pullSecret: string,
    ) {}

    /** `node`: the node the probe pod runs on; any by default. */
    private pod(args: string[], node?: string): { name: string; manifest: string } {
        const name = `probe-${process.pid}-${++probes}`;
        const manifest = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name, namespace: this.namespace, labels: { "app.kubernetes.io/name": "dockyard-e2e-probe" } },
            spec: {
                nodeName: node,
                restartPolicy: "Never",
                automountServiceAccountToken: false,
                imagePullSecrets: [{ name: this.pullSecret }],
                securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
                containers: [
                    {
                        name: "probe",
                        image: this.image,
                        args,
                        resources: { requests: { cpu: "50m", memory: "16Mi" }, limits: { cpu: "500m", memory: "64Mi" } },
                        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                    },
                ],
            },
        };
        return { name, manifest: JSON.stringify(manifest) };
    }

    private phase(name: string): Promise<string> {
        return this.cluster.kubectlOk(["get", "pod", name, "-n", this.namespace, "-o", "jsonpath={.status.phase}"]);
    }

    /** `count` requests one after another, from a pod, once it is admitted; their summary with the bodies. */
    async requests(url: string, count: number): Promise<ProbeSummary> {
        const { name, manifest } = this.pod(["-url", url, "-count", String(count), ...ADMIT]);
        await this.cluster.kubectlOk(["create", "-f", "-"], manifest);
        try {
            await waitUntil(`probe pod ${name} to finish`, 120_000, async () => (["Succeeded", "Failed"].includes(await this.phase(name)) ? true : undefined));
            return lastReport(await this.cluster.kubectlOk(["logs", name, "-n", this.namespace]));
        } finally {
            await this.cluster.kubectl(["delete", "pod", name, "-n", this.namespace, "--wait=false"]);
        }
    }

    /**
     * Requests in a loop from a pod, once it is admitted, until `stop`, which returns the final summary; `latest`
     * is the last report so far. `node` pins the pod (a client must outlive a node taken down under it);
     * `extraArgs` go to httploop (`-workers`, `-pause`); `admitted: false` starts at once, for a client the
     * NetworkPolicy should refuse.
     */
    async loop(
        url: string,
        opts: { node?: string; extraArgs?: string[]; admitted?: boolean } = {},
    ): Promise<{ stop: () => Promise<ProbeSummary>; latest: () => ProbeSummary }> {
        const admit = opts.admitted === false ? [] : ADMIT;
        const { name, manifest } = this.pod(["-url", url, "-max", "10m", "-report", "500ms", ...admit, ...(opts.extraArgs ?? [])], opts.node);
        await this.cluster.kubectlOk(["create", "-f", "-"], manifest);
        await waitUntil(`probe pod ${name} to run`, 120_000, async () => ((await this.phase(name)) === "Running" ? true : undefined));
        // Followed from the start, so the report it prints on SIGTERM is read before the pod is gone.
        const follow = spawn(this.cluster.info.kubectl, ["--kubeconfig", this.cluster.info.kubeconfig, "logs", "-f", name, "-n", this.namespace]);
        let out = "";
        follow.stdout.on("data", (d) => (out += d));
        const ended = new Promise((resolve) => follow.on("close", resolve));
        await waitUntil(`probe pod ${name} to report traffic`, 60_000, async () => (out.includes('"requests":') ? true : undefined));
        return {
            latest: () => lastReport(out),
            stop: async () => {
                await this.cluster.kubectlOk(["delete", "pod", name, "-n", this.namespace, "--wait=true"]);
                await ended;
                const summary = lastReport(out);
                if (!summary.final) throw new Error(`probe ${name} was stopped before its final report:\n${out}`);
                return summary;
            },
        };
    }
}

function lastReport(logs: string): ProbeSummary {
    const lines = logs.trim().split("\n").filter((l) => l.startsWith("{"));
    if (lines.length === 0) throw new Error(`the probe reported nothing:\n${logs}`);
    return JSON.parse(lines[lines.length - 1]);
}
