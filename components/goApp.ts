import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { DockerWorkload, type DockerWorkloadArgs, validateDockerWorkloadArgs } from "./dockerWorkload";
import { GoAppImage, type GoAppImageArgs, validateGoAppImageArgs } from "./goAppImage";
import { type ArgProblem, checkOneOf, throwIfAny, under } from "./internal/problems";
import { KubernetesWorkload, type KubernetesWorkloadArgs, validateKubernetesWorkloadArgs } from "./kubernetesWorkload";
import { type WorkloadArgs } from "./types";

/** Where a GoApp runs. */
export type Target = "docker" | "kubernetes";
export const TARGETS: readonly Target[] = ["docker", "kubernetes"];

/** Workload args GoApp sets itself, from its own top-level fields. */
type Shared = keyof WorkloadArgs;

/** `kind`, `port`, `env` and `args` are the workload's; `image` here is how to build it. */
export interface GoAppArgs extends Omit<WorkloadArgs, "image"> {
    /** The app's directory, holding go.mod and its Dockerfile. Required. */
    appDir: string;
    /** Run on a Docker engine or on Kubernetes. Required. */
    target: Target;
    /** How to build and where to push the image. Default: built locally from `<appDir>/Dockerfile`. */
    image?: Omit<GoAppImageArgs, "appDir">;
    /** Settings for `target: "docker"`; not allowed with Kubernetes. Default: DockerWorkload's defaults. */
    docker?: Omit<DockerWorkloadArgs, Shared>;
    /** Settings for `target: "kubernetes"`; not allowed with Docker. Default: KubernetesWorkload's defaults. */
    kubernetes?: Omit<KubernetesWorkloadArgs, Shared>;
}

const SHARED_FIELDS = new Set<string>(["image", "kind", "port", "env", "args"] satisfies Shared[]);

/** A stand-in for the image reference, which is only known once built: validators skip unknown values. */
const pendingImage = pulumi.output("pending");

/**
 * Every problem with GoApp arguments, with field paths as the caller wrote them (`port`,
 * `docker.hostPort`, `image.platform`). Nothing is registered; call it to check several apps first.
 */
export function validateGoAppArgs(args: GoAppArgs): ArgProblem[] {
    const problems: ArgProblem[] = [];
    checkOneOf(problems, "target", args.target, TARGETS);
    if (args.target === undefined) problems.push({ field: "target", value: undefined, allowed: 'one of "docker", "kubernetes"' });
    problems.push(...under("image", validateGoAppImageArgs({ ...args.image, appDir: args.appDir })).map(unprefixAppDir));

    const shared = { image: pendingImage, kind: args.kind, port: args.port, env: args.env, args: args.args };
    const place = (section: "docker" | "kubernetes") => (p: ArgProblem) =>
        SHARED_FIELDS.has(p.field.split(".")[0]) ? p : { ...p, field: `${section}.${p.field}` };
    if (args.target === "docker") {
        problems.push(...validateDockerWorkloadArgs({ ...args.docker, ...shared }).map(place("docker")));
        if (args.kubernetes !== undefined) problems.push({ field: "kubernetes", value: args.kubernetes, allowed: 'unset when target is "docker"' });
    } else if (args.target === "kubernetes") {
        problems.push(...validateKubernetesWorkloadArgs({ ...args.kubernetes, ...shared }).map(place("kubernetes")));
        if (args.docker !== undefined) problems.push({ field: "docker", value: args.docker, allowed: 'unset when target is "kubernetes"' });
    }
    return problems;
}

function unprefixAppDir(p: ArgProblem): ArgProblem {
    return p.field === "image.appDir" ? { ...p, field: "appDir" } : p;
}

/**
 * A Go app from source to running workload in one line: its image built from `appDir` with a
 * content tag, then run as a hardened container on Docker or a Deployment/Service or Job on
 * Kubernetes. Changing the app's files changes the tag and rolls exactly this workload.
 */
export class GoApp extends pulumi.ComponentResource {
    /** The image build. */
    public readonly image: GoAppImage;
    /** The workload running it. */
    public readonly workload: DockerWorkload | KubernetesWorkload;
    /** The image reference deployed: digest when pushed, content tag when local. */
    public readonly imageRef: pulumi.Output<string>;
    /** Services: a URL on Docker, `host:port` inside the cluster on Kubernetes. */
    public readonly endpoint?: pulumi.Output<string>;
    /** Jobs on Docker: what the job printed. */
    public readonly logs?: pulumi.Output<string>;

    constructor(name: string, args: GoAppArgs, opts?: pulumi.ComponentResourceOptions) {
        throwIfAny(`GoApp "${name}"`, validateGoAppArgs(args));
        super("dockyard:index:GoApp", name, {}, opts);

        this.image = new GoAppImage(`${name}-image`, { ...args.image, appDir: args.appDir }, { parent: this });
        this.imageRef = this.image.imageRef;
        const shared = { image: this.imageRef, kind: args.kind, port: args.port, env: args.env, args: args.args };

        if (args.target === "docker") {
            const workload = new DockerWorkload(`${name}-workload`, { ...args.docker, ...shared }, { parent: this });
            this.endpoint = workload.url;
            this.logs = workload.logs;
            this.workload = workload;
        } else {
            const appName = args.kubernetes?.appName ?? path.basename(path.resolve(args.appDir));
            const workload = new KubernetesWorkload(`${name}-workload`, { ...args.kubernetes, appName, ...shared }, { parent: this });
            this.endpoint = workload.address;
            this.workload = workload;
        }
        this.registerOutputs({ imageRef: this.imageRef, endpoint: this.endpoint, logs: this.logs });
    }
}
