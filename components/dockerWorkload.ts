import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as net from "net";
import { type ArgProblem, checkInteger, checkOneOf, known, throwIfAny } from "./internal/problems";
import { dockerCpus, dockerMemoryMiB } from "./internal/quantity";
import { floatingImageProblem } from "./internal/imageRef";
import { currentStackName } from "./kubernetesWorkload";
import { PROJECT_DIR_LABEL, STACK_LABEL } from "./internal/stack";
import { DEFAULT_METRICS_PATH, type ResourceQuantities, type WorkloadArgs, WORKLOAD_KINDS, provenance, validateEnv, validateMetrics, validateQuantities } from "./types";

export type DockerRestartPolicy = "no" | "on-failure" | "always" | "unless-stopped";
const RESTART_POLICIES: readonly DockerRestartPolicy[] = ["no", "on-failure", "always", "unless-stopped"];

export interface DockerWorkloadArgs extends WorkloadArgs {
    /**
     * Host port to publish `port` on. Default: an ephemeral port picked by the engine (see `url`). A fixed
     * port makes a replacement delete the old container first, since two cannot bind it at once.
     */
    hostPort?: number;
    /** Host address to publish on. Default: `"127.0.0.1"`, so nothing is exposed beyond this machine. */
    hostIp?: pulumi.Input<string>;
    /** CPU and memory limits. Default: `{ cpu: "0.5", memory: "128Mi" }`. */
    limits?: ResourceQuantities;
    /** A fixed container name. Default: the resource name plus a random suffix; a fixed one means delete-before-replace. */
    containerName?: string;
    /** Restart policy. Default: `"unless-stopped"` for a service, `"no"` for a job. */
    restart?: DockerRestartPolicy;
    /**
     * A health check for the container, overriding the image's `HEALTHCHECK`. Services only. Default: none,
     * the image's own (if it has one).
     */
    healthcheck?: DockerHealthcheck;
    /**
     * Whether the image defines a `HEALTHCHECK`. GoApp reads it from the Dockerfile's built stage when it
     * builds the image; say it here for an image built elsewhere. Default: `false`.
     */
    imageHealthcheck?: boolean;
    /**
     * Wait for the health check to report healthy before `pulumi up` succeeds. Services only; needs
     * `healthcheck` or `imageHealthcheck`. Without one, `up` waits for the container to be running and warns
     * once that nothing checks the app answers. Default: `true` when there is a health check, else `false`.
     */
    waitForHealthy?: boolean;
    /** How long to wait for healthy, in seconds. Default: `60`. */
    healthTimeoutSeconds?: number;
    /** Seconds between SIGTERM and SIGKILL when the container is stopped or replaced. Default: `15`. */
    stopTimeoutSeconds?: number;
    /** Create a dedicated bridge network for this workload. Default: `false` (the engine's default bridge). */
    createNetwork?: boolean;
    /** Join this existing network instead. Default: none. */
    networkName?: pulumi.Input<string>;
    /** User (and group) to run as; loosening it is explicit. Default: `"65532:65532"`, non-root. */
    user?: string;
    /** Mount the root filesystem read-only. Default: `true`. */
    readOnlyRootFilesystem?: boolean;
    /** Capabilities to add back after dropping all. Default: `[]`. */
    addCapabilities?: string[];
    /** Writable tmpfs mounts, path → mount options, for apps that need scratch space. Default: `{}`. */
    tmpfs?: Record<string, string>;
    /** Labels on the container and network. Default: `{}`. */
    labels?: Record<string, string>;
}

/** A container health check: a command run inside the container, healthy when it exits 0. */
export interface DockerHealthcheck {
    /** The command and its arguments, exec form: no shell is involved. Required. */
    command: string[];
    /** Seconds between checks. Default: `5`. */
    intervalSeconds?: number;
    /** Seconds one check may take before it counts as failed. Default: `3`. */
    timeoutSeconds?: number;
    /** Failures in a row that make the container unhealthy. Default: `3`. */
    retries?: number;
    /** Seconds after start during which failures do not count. Default: `0`. */
    startPeriodSeconds?: number;
}

export const DOCKER_DEFAULTS = {
    port: 8080,
    hostIp: "127.0.0.1",
    limits: { cpu: "0.5", memory: "128Mi" },
    healthTimeoutSeconds: 60,
    healthcheck: { intervalSeconds: 5, timeoutSeconds: 3, retries: 3, startPeriodSeconds: 0 },
    stopTimeoutSeconds: 15,
    user: "65532:65532",
} as const;

/** Every problem with DockerWorkload arguments, by field. */
export function validateDockerWorkloadArgs(args: DockerWorkloadArgs): ArgProblem[] {
    const problems: ArgProblem[] = [];
    const floating = floatingImageProblem("image", args.image);
    if (floating) problems.push(floating);
    checkOneOf(problems, "kind", args.kind, WORKLOAD_KINDS);
    checkOneOf(problems, "restart", args.restart, RESTART_POLICIES);
    checkInteger(problems, "port", args.port, 1, 65535);
    checkInteger(problems, "hostPort", args.hostPort, 1, 65535);
    checkInteger(problems, "healthTimeoutSeconds", args.healthTimeoutSeconds, 1, 3600);
    checkInteger(problems, "stopTimeoutSeconds", args.stopTimeoutSeconds, 1, 3600);
    problems.push(...validateHealthcheck(args.healthcheck));
    if (args.waitForHealthy === true && !hasHealthcheck(args)) {
        problems.push({
            field: "waitForHealthy",
            value: true,
            allowed: "true only with a health check: set healthcheck, or imageHealthcheck: true when the image has a HEALTHCHECK",
        });
    }
    if (args.kind === "job") {
        for (const field of ["port", "hostPort", "hostIp", "waitForHealthy", "healthcheck"] as const) {
            if (args[field] !== undefined) problems.push({ field, value: args[field], allowed: "nothing: a job publishes no port and has no health check" });
        }
    }
    if (known(args.hostIp) && args.hostIp !== undefined && net.isIP(args.hostIp) === 0) {
        problems.push({ field: "hostIp", value: args.hostIp, allowed: 'an IPv4 or IPv6 address, e.g. "127.0.0.1"' });
    }
    if (args.env && "PORT" in args.env) problems.push({ field: "env.PORT", value: args.env.PORT, allowed: "unset: PORT is taken from port" });
    problems.push(...validateEnv(args.env), ...validateQuantities("limits", args.limits), ...validateMetrics(args, args.port ?? DOCKER_DEFAULTS.port, "docker"));
    if (args.createNetwork && args.networkName !== undefined) {
        problems.push({ field: "networkName", value: args.networkName, allowed: "unset when createNetwork is true: a workload joins one network" });
    }
    if (args.user !== undefined && !/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/.test(args.user)) {
        problems.push({ field: "user", value: args.user, allowed: 'user[:group], e.g. "65532:65532"' });
    }
    return problems;
}

function validateHealthcheck(h: DockerHealthcheck | undefined): ArgProblem[] {
    if (h === undefined) return [];
    const problems: ArgProblem[] = [];
    if (!Array.isArray(h.command) || h.command.length === 0 || h.command.some((c) => typeof c !== "string" || c === "")) {
        problems.push({ field: "healthcheck.command", value: h.command, allowed: 'a non-empty list of non-empty strings, e.g. ["/app", "-healthcheck"]' });
    }
    checkInteger(problems, "healthcheck.intervalSeconds", h.intervalSeconds, 1, 3600);
    checkInteger(problems, "healthcheck.timeoutSeconds", h.timeoutSeconds, 1, 3600);
    checkInteger(problems, "healthcheck.retries", h.retries, 1, 100);
    checkInteger(problems, "healthcheck.startPeriodSeconds", h.startPeriodSeconds, 0, 3600);
    for (const key of Object.keys(h)) {
        if (!["command", "intervalSeconds", "timeoutSeconds", "retries", "startPeriodSeconds"].includes(key)) {
            problems.push({ field: `healthcheck.${key}`, value: (h as unknown as Record<string, unknown>)[key], allowed: "one of command, intervalSeconds, timeoutSeconds, retries, startPeriodSeconds" });
        }
    }
    return problems;
}

function hasHealthcheck(args: Pick<DockerWorkloadArgs, "healthcheck" | "imageHealthcheck">): boolean {
    return args.healthcheck !== undefined || args.imageHealthcheck === true;
}

/** The provider's form of a health check: Docker's `CMD` exec form and duration strings. @internal */
export function containerHealthcheck(h: DockerHealthcheck): docker.types.input.ContainerHealthcheck {
    const d = { ...DOCKER_DEFAULTS.healthcheck, ...h };
    return { tests: ["CMD", ...h.command], interval: `${d.intervalSeconds}s`, timeout: `${d.timeoutSeconds}s`, retries: d.retries, startPeriod: `${d.startPeriodSeconds}s` };
}

/**
 * Runs an image on a Docker engine, hardened by default: non-root, read-only root filesystem,
 * every capability dropped, no privilege escalation, CPU and memory limits. A service publishes its
 * port (on loopback unless told otherwise) and `pulumi up` waits for it to turn healthy when it has a
 * health check (the image's `HEALTHCHECK` or `healthcheck`), for it to be running otherwise; a job runs
 * to completion, its logs become an output and a non-zero exit fails the update.
 */
export class DockerWorkload extends pulumi.ComponentResource {
    /** The container. */
    public readonly container: docker.Container;
    /** The dedicated network, when `createNetwork` is set. */
    public readonly network?: docker.Network;
    /** Services: `http://<hostIp>:<published port>`. */
    public readonly url?: pulumi.Output<string>;
    /** Jobs: what the container printed. */
    public readonly logs?: pulumi.Output<string>;
    /** Services with `metrics`: `http://<hostIp>:<published port><path>`. */
    public readonly metricsUrl?: pulumi.Output<string>;
    /** Jobs: the exit code, which must be 0; any other value fails the update with the job's logs. */
    public readonly exitCode?: pulumi.Output<number>;

    constructor(name: string, args: DockerWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        throwIfAny(`DockerWorkload "${name}"`, validateDockerWorkloadArgs(args));
        super("dockyard:docker:DockerWorkload", name, {}, opts);

        const isJob = args.kind === "job";
        const port = args.port ?? DOCKER_DEFAULTS.port;
        const hostIp = args.hostIp ?? DOCKER_DEFAULTS.hostIp;
        const limits = { ...DOCKER_DEFAULTS.limits, ...args.limits };
        const labels = Object.entries(args.labels ?? {}).map(([label, value]) => ({ label, value }));
        const pairs = (record: Record<string, pulumi.Input<string>>) => Object.entries(record).map(([label, value]) => ({ label, value }));
        const containerLabels = [...pairs(stackLabels()), ...labels, ...pairs(provenance(args.image, args.sourceCommit))];

        if (args.createNetwork) {
            this.network = new docker.Network(`${name}-network`, { driver: "bridge", labels }, { parent: this });
        }
        const networkName = this.network?.name ?? args.networkName;

        const env: pulumi.Input<string>[] = Object.entries(args.env ?? {}).map(([k, v]) => pulumi.interpolate`${k}=${v}`);
        if (!isJob) env.unshift(`PORT=${port}`, ...(args.metrics ? [`METRICS_PORT=${args.metrics.port}`] : []));

        const fixedIdentity = args.hostPort !== undefined || args.containerName !== undefined;
        const wait = !isJob && (args.waitForHealthy ?? hasHealthcheck(args));
        if (!isJob && !hasHealthcheck(args) && args.waitForHealthy === undefined) {
            void pulumi.log.warn(
                `${name}: the image has no HEALTHCHECK, so \`pulumi up\` waits only for the container to be running, not for the app to answer. ` +
                    `Add a HEALTHCHECK to the Dockerfile's final stage (exec form; the image needs a binary to run it), or pass ` +
                    `healthcheck: { command: [...] }; imageHealthcheck: true says an image built elsewhere has one.`,
                this,
            );
        }
        this.container = new docker.Container(
            `${name}-container`,
            {
                image: args.image,
                name: args.containerName,
                command: args.args,
                envs: env,
                labels: containerLabels,
                user: args.user ?? DOCKER_DEFAULTS.user,
                readOnly: args.readOnlyRootFilesystem ?? true,
                capabilities: { drops: ["ALL"], adds: args.addCapabilities ?? [] },
                securityOpts: ["no-new-privileges:true"],
                tmpfs: args.tmpfs,
                memory: dockerMemoryMiB(limits.memory),
                // Equal to memory: no swap beyond the limit. Left unset, the engine picks twice the
                // memory, reads back as drift, and every `pulumi up` would "update" the container.
                memorySwap: dockerMemoryMiB(limits.memory),
                cpus: dockerCpus(limits.cpu),
                stopTimeout: args.stopTimeoutSeconds ?? DOCKER_DEFAULTS.stopTimeoutSeconds,
                destroyGraceSeconds: args.stopTimeoutSeconds ?? DOCKER_DEFAULTS.stopTimeoutSeconds,
                networksAdvanced: networkName === undefined ? undefined : [{ name: networkName }],
                restart: args.restart ?? (isJob ? "no" : "unless-stopped"),
                ...(isJob
                    ? // The provider deletes a stopped container while mustRun is on: a job must turn it off.
                      { mustRun: false, attach: true, logs: true }
                    : {
                          mustRun: true,
                          // Metrics on an ephemeral host port: more than one app may serve them.
                          ports: [
                              { internal: port, external: args.hostPort, ip: hostIp, protocol: "tcp" },
                              ...(args.metrics ? [{ internal: args.metrics.port, ip: hostIp, protocol: "tcp" }] : []),
                          ],
                          healthcheck: args.healthcheck && containerHealthcheck(args.healthcheck),
                          wait,
                          waitTimeout: args.healthTimeoutSeconds ?? DOCKER_DEFAULTS.healthTimeoutSeconds,
                      }),
            },
            { parent: this, deleteBeforeReplace: fixedIdentity },
        );

        if (isJob) {
            this.logs = this.container.containerLogs.apply((l) => l ?? "");
            this.exitCode = pulumi.all([this.container.exitCode, this.logs]).apply(([code, logs]) => {
                if (code !== undefined && code !== 0) {
                    throw new Error(`job ${name} exited with code ${code}; its output:\n${logs}`);
                }
                return code ?? 0;
            });
        } else {
            const published = this.container.ports.apply((ports) => ports?.find((p) => p.internal === port)?.external);
            this.url = pulumi.interpolate`http://${hostIp}:${published}`;
            const metrics = args.metrics;
            if (metrics) {
                const metricsPort = this.container.ports.apply((ports) => ports?.find((p) => p.internal === metrics.port)?.external);
                this.metricsUrl = pulumi.interpolate`http://${hostIp}:${metricsPort}${metrics.path ?? DEFAULT_METRICS_PATH}`;
            }
        }
        this.registerOutputs({ url: this.url, logs: this.logs, exitCode: this.exitCode, metricsUrl: this.metricsUrl });
    }
}/** @internal */
export function stackLabels(): Record<string, string> {
    return { [STACK_LABEL]: currentStackName(), [PROJECT_DIR_LABEL]: process.cwd() };
}


