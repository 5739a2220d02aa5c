// The end-to-end suite's real cluster: started by test/harness/cluster.sh and always stopped, on
// success, failure, process exit or Ctrl-C, with the host put back as it was. Or, with
// DOCKYARD_E2E_KUBECONFIG and DOCKYARD_E2E_REGISTRY* set, a cluster and registry of one's own,
// used as they are and left running.
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable } from "stream";
import { repoRoot, type RunResult, run } from "./docker";

const script = path.join(repoRoot, "test", "harness", "cluster.sh");

export interface ClusterInfo {
    kubeconfig: string;
    kubectl: string;
    /** Local cluster only: its nodes, each with its containerd socket. */
    nodes?: { name: string; containerd: string }[];
    /** Local cluster only: how long the controller-manager waits before it marks a silent node not ready. */
    nodeMonitorGracePeriodSeconds?: number;
    /** The server's version, e.g. v1.37.2. */
    version: string;
    /** A registry with a password, reached as `server` by the Docker engine and by the node alike. */
    registry: { server: string; username: string; password: string };
    /**
     * A Prometheus whose HTTP API this host reaches, finding the cluster's pods by Kubernetes service discovery
     * and scraping those the `prometheus.io/*` annotations name.
     */
    prometheus: string;
    /**
     * Local cluster only: the nodes' network, where its Prometheus scrapes from. On one's own cluster,
     * DOCKYARD_E2E_PROMETHEUS_NAMESPACE names the namespace its Prometheus runs in instead.
     */
    nodesCidr?: string;
}

export class Cluster {
    private stopped = false;
    private readonly onSignal = (signal: NodeJS.Signals) => {
        this.stop();
        process.exit(signal === "SIGINT" ? 130 : 143);
    };
    private readonly onExit = () => this.stop();

    private constructor(
        readonly info: ClusterInfo,
        /** The local cluster's state; none for one's own cluster, which is never stopped. */
        private readonly stateDir?: string,
    ) {
        if (!stateDir) return;
        process.once("SIGINT", this.onSignal);
        process.once("SIGTERM", this.onSignal);
        process.once("exit", this.onExit);
    }

    /** True for the cluster this suite started, whose node and host it can inspect. */
    get local(): boolean {
        return this.stateDir !== undefined;
    }

    /** One's own cluster and registry, when DOCKYARD_E2E_KUBECONFIG is set; else a local one, started. */
    static async start(): Promise<Cluster> {
        const env = process.env;
        if (!env.DOCKYARD_E2E_KUBECONFIG) return Cluster.startLocal();
        const missing = ["DOCKYARD_E2E_REGISTRY", "DOCKYARD_E2E_REGISTRY_USERNAME", "DOCKYARD_E2E_REGISTRY_PASSWORD", "DOCKYARD_E2E_PROMETHEUS"].filter((k) => !env[k]);
        if (missing.length) throw new Error(`DOCKYARD_E2E_KUBECONFIG is set, so these must be too: ${missing.join(", ")}`);
        const kubectl = execFileSync("bash", [path.join(repoRoot, "test", "harness", "engines", "kubernetes.sh")], { stdio: ["ignore", "pipe", "inherit"] }).toString().trim();
        const info: ClusterInfo = {
            kubeconfig: env.DOCKYARD_E2E_KUBECONFIG,
            kubectl: path.join(kubectl, "kubectl"),
            version: "",
            registry: { server: env.DOCKYARD_E2E_REGISTRY!, username: env.DOCKYARD_E2E_REGISTRY_USERNAME!, password: env.DOCKYARD_E2E_REGISTRY_PASSWORD! },
            prometheus: env.DOCKYARD_E2E_PROMETHEUS!,
        };
        const version = JSON.parse(execFileSync(info.kubectl, ["--kubeconfig", info.kubeconfig, "version", "-o", "json"]).toString());
        return new Cluster({ ...info, version: version.serverVersion.gitVersion });
    }

    /** Starts the local cluster; a failed start has already cleaned up after itself. */
    private static async startLocal(): Promise<Cluster> {
        if (process.getuid?.() !== 0) throw new Error("the end-to-end cluster needs root (network namespaces, the kubelet): run as root");
        const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-e2e-"));
        const r = await new Promise<number>((resolve, reject) => {
            const child = spawn("bash", [script, "up", stateDir], { env: { ...process.env, OWNER_PID: String(process.pid) }, stdio: ["ignore", "inherit", "inherit"] });
            child.on("error", reject);
            child.on("close", (code) => resolve(code ?? -1));
        });
        if (r !== 0) throw new Error(`the end-to-end cluster did not start (test/harness/cluster.sh up exited ${r}; its output is above)`);
        return new Cluster(JSON.parse(fs.readFileSync(path.join(stateDir, "cluster.json"), "utf8")), stateDir);
    }

    /** Stops everything and restores the host. Synchronous, so it also runs from an exit handler. */
    stop(): void {
        if (this.stopped || !this.stateDir) return;
        this.stopped = true;
        process.removeListener("SIGINT", this.onSignal);
        process.removeListener("SIGTERM", this.onSignal);
        process.removeListener("exit", this.onExit);
        execFileSync("bash", [script, "down", this.stateDir], { stdio: ["ignore", "inherit", "inherit"] });
    }

    /** The Minor version as Pod Security labels write it: v1.37. */
    get minorVersion(): string {
        return this.info.version.split(".").slice(0, 2).join(".");
    }

    kubectl(args: string[], input?: string): Promise<RunResult> {
        return run(this.info.kubectl, ["--kubeconfig", this.info.kubeconfig, ...args], input === undefined ? {} : { input: Readable.from([input]) });
    }

    /** kubectl that must succeed; its stdout. */
    async kubectlOk(args: string[], input?: string): Promise<string> {
        const r = await this.kubectl(args, input);
        if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
        return r.stdout;
    }

    async getJson<T = any>(args: string[]): Promise<T> {
        return JSON.parse(await this.kubectlOk([...args, "-o", "json"]));
    }

    /** `ctr` against a node's containerd. */
    ctr(node: string, args: string[]): Promise<RunResult> {
        const containerd = this.info.nodes?.find((n) => n.name === node)?.containerd;
        if (!containerd) throw new Error(`no containerd known for node ${node}: nodes' runtimes are reachable on the local cluster only`);
        return run("ctr", ["--address", containerd, "-n", "k8s.io", ...args]);
    }

    /** Local cluster only: the registry takes a new password and refuses the old one from then on. */
    rotateRegistryPassword(password: string): void {
        if (!this.stateDir) throw new Error("the registry's password can be changed on the local cluster only");
        execFileSync("bash", [script, "registry-password", this.stateDir, password], { stdio: ["ignore", "inherit", "inherit"] });
        this.info.registry.password = password;
    }

    /**
     * The local cluster's NetworkPolicy enforcer (kube-router's firewall on every node), started, or stopped with its
     * rules removed. One's own cluster is taken to enforce policies with its own network plugin: nothing to do.
     */
    firewall(action: "start" | "stop"): void {
        if (!this.stateDir) return;
        execFileSync("bash", [script, `firewall-${action}`, this.stateDir], { stdio: ["ignore", "inherit", "inherit"] });
    }

    /** Local cluster only: cert-manager's controller, issuing for every namespace, started or stopped. */
    async certManager(action: "start" | "stop"): Promise<void> {
        await this.harness("cert-manager", `cert-manager-${action}`);
    }

    /**
     * Local cluster only: the suite's ingress proxy (Skipper, in the first node's namespace), started for the
     * Ingresses of `className` in `namespace`. Where it listens: `address`:443 for the nodes, and 127.0.0.1:`port`
     * for this host.
     */
    async startIngress(className: string, namespace: string): Promise<{ address: string; port: number }> {
        return JSON.parse(await this.harness("the ingress proxy", "ingress-start", className, namespace));
    }

    async stopIngress(namespace: string): Promise<void> {
        await this.harness("the ingress proxy", "ingress-stop", namespace);
    }

    /** Runs one of cluster.sh's commands on the local cluster without blocking the steps running beside it. */
    private async harness(what: string, command: string, ...args: string[]): Promise<string> {
        if (!this.stateDir) throw new Error(`${what} runs on the local cluster only`);
        const r = await run("bash", [script, command, this.stateDir, ...args]);
        if (r.code !== 0) throw new Error(`cluster.sh ${command} failed (exit ${r.code}): ${r.stderr}`);
        return r.stdout;
    }

    /** Local cluster only: kills a node outright (kubelet, kube-proxy, containerd, its pods' processes), or starts it again. */
    node(action: "stop" | "start", name: string): void {
        if (!this.stateDir) throw new Error("nodes can be stopped on the local cluster only");
        execFileSync("bash", [script, `node-${action}`, this.stateDir, name], { stdio: ["ignore", "inherit", "inherit"] });
    }
}

/** What the host looks like in the ways a cluster can change it: compared before and after. */
export function hostSnapshot(): Record<string, string> {
    const sh = (cmd: string) => {
        try {
            return execFileSync("sh", ["-c", cmd]).toString().trim();
        } catch {
            return "";
        }
    };
    return {
        sysctls: sh("sysctl -n vm.overcommit_memory kernel.panic kernel.panic_on_oops | tr '\\n' ' '"),
        netns: sh("ip netns list"),
        // Running processes by name (the kernel keeps 15 characters of it), so a build of these binaries is
        // no match. Exited ones waiting for init to collect them (zombies) hold nothing and are left out.
        processes: sh(
            "for n in kube-apiserver kube-controller kube-scheduler kubelet kube-proxy kube-router etcd containerd-shim pause docker-registry; do " +
                "for p in $(pgrep -x $n); do [ \"$(awk '{print $3}' /proc/$p/stat 2>/dev/null)\" = Z ] || ps -o pid=,args= -p $p; done; done; true",
        ),
        paths: sh("ls -d /var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/containerd /run/netns /sys/fs/cgroup/*/dockyard-e2e* 2>/dev/null || true"),
        mounts: sh("grep -c dockyard-e2e /proc/self/mountinfo || true"),
    };
}

/**
 * The kubeconfig copies directly in the temp dir: the Kubernetes provider writes one (`kubeconfig<random>`,
 * client key included) for each configuration it is given and never deletes it. Other files are not counted:
 * on a used machine other programs write to the temp dir while the suite runs.
 */
export function tempFiles(): string[] {
    const dir = os.tmpdir();
    // Only the provider's kind: on a used machine other programs write to the temp dir during a run too.
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile() && e.name.startsWith("kubeconfig"))
        .map((e) => path.join(dir, e.name))
        .sort();
}
