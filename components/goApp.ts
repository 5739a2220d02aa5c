import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { DOCKER_DEFAULTS, DockerWorkload, type DockerWorkloadArgs, validateDockerWorkloadArgs } from "./dockerWorkload";
import { GoAppImage, type GoAppImageArgs, dockerfileFacts, plannedImage, validateGoAppImageArgs, validateRegistry } from "./goAppImage";
import { isDigestRef } from "./internal/imageRef";
import { type ArgProblem, checkOneOf, known, throwIfAny, under } from "./internal/problems";
import { type JobRun, type KubernetesObjectRef, KubernetesWorkload, type KubernetesWorkloadArgs, jobRun, kubernetesWorkloadObjects, validateKubernetesWorkloadArgs } from "./kubernetesWorkload";
import { type RegistryCredentials, type WorkloadArgs } from "./types";

/** Where a GoApp runs. */
export type Target = "docker" | "kubernetes";
export const TARGETS: readonly Target[] = ["docker", "kubernetes"];

/** Workload args GoApp sets itself, from its own top-level fields. */
type Shared = keyof WorkloadArgs;

/** How GoApp gets its image: built from the app's Dockerfile, or `ref`, an image built elsewhere. */
export interface GoAppImageSource extends Omit<GoAppImageArgs, "appDir"> {
    /**
     * A prebuilt image by digest (`repo@sha256:…`), deployed as given: nothing is built or pushed, and
     * the build fields must be unset. `registry` still gives the credentials pods pull with. For images
     * built elsewhere, and for promoting one build across stacks. Default: none, the image is built.
     */
    ref?: pulumi.Input<string>;
}

/** `kind`, `port`, `env` and `args` are the workload's; `image` here is how to get it. */
export interface GoAppArgs extends Omit<WorkloadArgs, "image"> {
    /** The app's directory, holding go.mod and its Dockerfile. Required unless `image.ref` is given. */
    appDir?: string;
    /** Run on a Docker engine or on Kubernetes. Required. */
    target: Target;
    /** How to build and where to push the image, or a prebuilt `ref`. Default: built locally from `<appDir>/Dockerfile`. */
    image?: GoAppImageSource;
    /**
     * Settings for `target: "docker"`; not allowed with Kubernetes. Default: DockerWorkload's defaults, plus
     * `imageHealthcheck` from the Dockerfile's built stage when the image is built here.
     */
    docker?: Omit<DockerWorkloadArgs, Shared>;
    /**
     * Settings for `target: "kubernetes"`; not allowed with Docker. Default: KubernetesWorkload's defaults,
     * plus `registryCredentials` from `image.registry` when it has a username and password and neither
     * `imagePullSecrets` nor `serviceAccountName` is given.
     */
    kubernetes?: Omit<KubernetesWorkloadArgs, Shared>;
}

const SHARED_FIELDS = new Set<string>(["image", "kind", "port", "env", "args", "sourceCommit", "metrics"] satisfies Shared[]);
const BUILD_FIELDS = ["dockerfile", "repository", "goImage", "runtimeImage", "buildArgs", "platform", "target", "buildOnPreview"] as const;

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
    const ref = args.image?.ref;
    if (ref === undefined) {
        problems.push(...under("image", validateGoAppImageArgs({ ...args.image, appDir: args.appDir as string })).map(unprefixAppDir));
    } else {
        if (known(ref) && (typeof ref !== "string" || !isDigestRef(ref))) {
            problems.push({ field: "image.ref", value: ref, allowed: "an image reference by digest, repository@sha256:<64 hex digits>" });
        }
        for (const field of BUILD_FIELDS) {
            if (args.image?.[field] !== undefined) problems.push({ field: `image.${field}`, value: args.image[field], allowed: "unset when image.ref is given: nothing is built" });
        }
        problems.push(...under("image", validateRegistry(args.image?.registry)));
    }

    const shared = { image: pendingImage, kind: args.kind, port: args.port, env: args.env, args: args.args, sourceCommit: args.sourceCommit, metrics: args.metrics };
    const place = (section: "docker" | "kubernetes") => (p: ArgProblem) =>
        SHARED_FIELDS.has(p.field.split(".")[0]) ? p : { ...p, field: `${section}.${p.field}` };
    if (args.target === "docker") {
        const imageHealthcheck = args.docker?.imageHealthcheck ?? (ref === undefined ? dockerfileFacts({ ...args.image, appDir: args.appDir as string })?.healthcheck : undefined);
        problems.push(...validateDockerWorkloadArgs({ ...args.docker, imageHealthcheck, ...shared }).map(place("docker")));
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

/** An app whose Dockerfile EXPOSEs ports, none of them `port`, most likely listens elsewhere. */
function warnUnexposedPort(app: pulumi.Resource, exposed: number[], port: number | undefined): void {
    const wired = port ?? DOCKER_DEFAULTS.port;
    if (exposed.length === 0 || exposed.includes(wired)) return;
    void pulumi.log.warn(
        `the Dockerfile EXPOSEs ${exposed.join(", ")} but port is ${wired}${port === undefined ? " (the default)" : ""}: ` +
            `traffic and probes go to ${wired}, and PORT=${wired} is passed to the app. Set port to the one the app listens on.`,
        app,
    );
}

/** The registry login pods pull with, when GoApp is to make the pull Secret itself. */
function pullCredentials(args: GoAppArgs): RegistryCredentials | undefined {
    const registry = args.image?.registry;
    const k = args.kubernetes;
    if (!registry?.username || registry.password === undefined || k?.imagePullSecrets !== undefined || k?.serviceAccountName !== undefined) return undefined;
    return { server: registry.server, username: registry.username, password: registry.password };
}

/** What GoApp hands either workload from its own fields. */
function sharedArgs(args: GoAppArgs, image: pulumi.Input<string>): WorkloadArgs {
    return { image, kind: args.kind, port: args.port, env: args.env, args: args.args, sourceCommit: args.sourceCommit, metrics: args.metrics };
}

/** The content-tagged name an image built here gets; none for a prebuilt `image.ref`. */
function imageSourceOf(args: GoAppArgs): string | undefined {
    return args.image?.ref === undefined ? plannedImage({ ...args.image, appDir: args.appDir as string }).imageName : undefined;
}

/** The KubernetesWorkload settings GoApp decides itself, beside the image and credentials. */
function kubernetesArgs(name: string, args: GoAppArgs): Omit<KubernetesWorkloadArgs, "image"> {
    const appName = args.kubernetes?.appName ?? (args.appDir ? path.basename(path.resolve(args.appDir)) : name);
    return { ...args.kubernetes, appName, kind: args.kind };
}

/**
 * A Go app from source to running workload in one line: its image built from `appDir` with a
 * content tag (or a prebuilt image by digest), then run as a hardened container on Docker or a
 * Deployment/Service or Job on Kubernetes. Changing the app's files changes the tag and rolls
 * exactly this workload.
 */
export class GoApp extends pulumi.ComponentResource {
    /** The image build; absent when `image.ref` is given. */
    public readonly image?: GoAppImage;
    /** The workload running it. */
    public readonly workload: DockerWorkload | KubernetesWorkload;
    /** The image reference deployed: digest when pushed or given, content tag when local. */
    public readonly imageRef: pulumi.Output<string>;
    /** Services: a URL on Docker, `host:port` inside the cluster on Kubernetes. */
    public readonly endpoint?: pulumi.Output<string>;
    /** Jobs on Docker: what the job printed. */
    public readonly logs?: pulumi.Output<string>;
    /** Services with `metrics`: their URL on Docker, `host:port/path` inside the cluster on Kubernetes. */
    public readonly metricsEndpoint?: pulumi.Output<string>;
    /** Services with a `kubernetes.route`: the URL a user opens, `https://<host><path>`. */
    public readonly url?: pulumi.Output<string>;

    /**
     * The Kubernetes objects `new GoApp(name, args)` would make under fixed names, in its namespace; none on
     * Docker. A program checks these against the cluster before creating anything (see `STACK_ANNOTATION`).
     */
    static kubernetesObjects(name: string, args: GoAppArgs): KubernetesObjectRef[] {
        return args.target === "kubernetes" ? kubernetesWorkloadObjects(`${name}-workload`, kubernetesArgs(name, args)) : [];
    }

    /**
     * A job's run on Kubernetes, as `new GoApp(name, args)` would record it: the image by the digest given, or
     * by the content-tagged name it is built under. None for services or on Docker. A program checks it against
     * the cluster (`jobRunCompleted`) and passes `kubernetes.runCompleted`, so a job runs once per change.
     */
    static jobRun(name: string, args: GoAppArgs): JobRun | undefined {
        if (args.target !== "kubernetes" || args.kind !== "job") return undefined;
        return jobRun({ ...kubernetesArgs(name, args), ...sharedArgs(args, args.image?.ref ?? pendingImage), imageSource: imageSourceOf(args) });
    }

    constructor(name: string, args: GoAppArgs, opts?: pulumi.ComponentResourceOptions) {
        throwIfAny(`GoApp "${name}"`, validateGoAppArgs(args));
        super("dockyard:index:GoApp", name, {}, opts);

        if (args.image?.ref !== undefined) {
            this.imageRef = pulumi.output(args.image.ref);
        } else {
            this.image = new GoAppImage(`${name}-image`, { ...args.image, appDir: args.appDir as string }, { parent: this });
            this.imageRef = this.image.imageRef;
        }
        const shared = sharedArgs(args, this.imageRef);

        if (this.image !== undefined && args.kind !== "job") warnUnexposedPort(this, this.image.exposedPorts, args.port);

        if (args.target === "docker") {
            const imageHealthcheck = args.docker?.imageHealthcheck ?? this.image?.hasHealthcheck;
            const workload = new DockerWorkload(`${name}-workload`, { ...args.docker, imageHealthcheck, ...shared }, { parent: this });
            this.endpoint = workload.url;
            this.logs = workload.logs;
            this.metricsEndpoint = workload.metricsUrl;
            this.workload = workload;
        } else {
            const registryCredentials = args.kubernetes?.registryCredentials ?? pullCredentials(args);
            // The name the build was planned under, not planned again: the content tag walks the app's files.
            const imageSource = args.kind === "job" ? this.image?.source : undefined;
            const workload = new KubernetesWorkload(`${name}-workload`, { ...kubernetesArgs(name, args), registryCredentials, imageSource, ...shared }, { parent: this });
            this.endpoint = workload.address;
            this.metricsEndpoint = workload.metricsAddress;
            this.url = workload.url;
            this.workload = workload;
        }
        this.registerOutputs({ imageRef: this.imageRef, endpoint: this.endpoint, logs: this.logs, metricsEndpoint: this.metricsEndpoint, url: this.url });
    }
}
