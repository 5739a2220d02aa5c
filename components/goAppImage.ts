import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { contentTag } from "./internal/contentTag";
import { type DockerfileFacts, readDockerfile, undeclaredBuildArgs } from "./internal/dockerfile";
import { isDigestRef } from "./internal/imageRef";
import { type ArgProblem, throwIfAny } from "./internal/problems";

/** Where to push an image. */
export interface RegistryArgs {
    /** Registry host (and port), e.g. `ghcr.io` or `localhost:5000`. Required. */
    server: string;
    /** User to log in as. Default: none, the engine's stored credentials for `server` are used. */
    username?: pulumi.Input<string>;
    /**
     * Password or token; always stored as a Pulumi secret. With `username`, GoApp on Kubernetes also makes
     * the pods' pull Secret from it. Default: none, as for `username`.
     */
    password?: pulumi.Input<string>;
}

export interface GoAppImageArgs {
    /** The app's directory: its build context, holding go.mod and the Dockerfile. Required. */
    appDir: string;
    /** Dockerfile path relative to `appDir`. Default: `"Dockerfile"`. */
    dockerfile?: string;
    /**
     * Repository to name the image in, without tag. Default: `<registry.server>/<app>` when pushing,
     * `dockyard/<app>` when local, where `<app>` is the base name of `appDir`.
     */
    repository?: string;
    /** The Dockerfile's `GO_IMAGE` build arg (the build stage). Default: the Dockerfile's own default. */
    goImage?: string;
    /** The Dockerfile's `RUNTIME_IMAGE` build arg (the final stage). Default: the Dockerfile's own default. */
    runtimeImage?: string;
    /**
     * Further build args. Plain strings, not Inputs: they are part of the content tag, which must be
     * known at preview. `goImage` and `runtimeImage` win over `GO_IMAGE`/`RUNTIME_IMAGE` here. Default: `{}`.
     */
    buildArgs?: Record<string, string>;
    /**
     * Target platform, e.g. `linux/arm64`. Default: `linux/` and this machine's architecture, which is
     * the local engine's; set it when the engine is remote or another architecture.
     */
    platform?: string;
    /** Dockerfile stage to build. Default: the last. */
    target?: string;
    /** Registry to push to. Default: none; the image stays in the local engine. */
    registry?: RegistryArgs;
    /**
     * Build during `pulumi preview` too, so a broken Dockerfile fails the pull request rather than the
     * deploy. Default: `true`.
     */
    buildOnPreview?: boolean;
}

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;
const REPOSITORY = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const BUILD_ARG = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Every problem with GoAppImage arguments, by field. Checks the file system for the app and Dockerfile. */
export function validateGoAppImageArgs(args: GoAppImageArgs): ArgProblem[] {
    const problems: ArgProblem[] = [];
    if (typeof args.appDir !== "string" || !fs.existsSync(args.appDir) || !fs.statSync(args.appDir).isDirectory()) {
        problems.push({ field: "appDir", value: args.appDir, allowed: "an existing directory (relative to the program's working directory)" });
    } else {
        const dockerfile = path.join(args.appDir, args.dockerfile ?? "Dockerfile");
        if (!fs.existsSync(dockerfile) || !fs.statSync(dockerfile).isFile()) {
            problems.push({ field: "dockerfile", value: args.dockerfile ?? "Dockerfile", allowed: `a file inside appDir; ${dockerfile} does not exist` });
        } else if (args.target !== undefined) {
            const stages = readDockerfile(fs.readFileSync(dockerfile, "utf8")).stages;
            if (!stages.some((s) => s.toLowerCase() === args.target?.toLowerCase())) {
                problems.push({ field: "target", value: args.target, allowed: `a stage ${dockerfile} names: ${stages.join(", ") || "(it names none)"}` });
            }
        }
    }
    if (args.platform !== undefined && !PLATFORM.test(args.platform)) {
        problems.push({ field: "platform", value: args.platform, allowed: "os/arch[/variant], e.g. linux/amd64" });
    }
    if (args.repository !== undefined && !REPOSITORY.test(stripRegistryHost(args.repository))) {
        problems.push({ field: "repository", value: args.repository, allowed: "a lowercase image repository without tag, e.g. ghcr.io/acme/server" });
    }
    for (const [key, value] of Object.entries(args.buildArgs ?? {})) {
        if (!BUILD_ARG.test(key) || typeof value !== "string") {
            problems.push({ field: `buildArgs.${key}`, value, allowed: "a string value under a name of letters, digits and underscores" });
        }
    }
    problems.push(...validateRegistry(args.registry));
    return problems;
}

/** What the image's Dockerfile says, or nothing when there is no Dockerfile to read. @internal */
export function dockerfileFacts(args: Pick<GoAppImageArgs, "appDir" | "dockerfile" | "target">): DockerfileFacts | undefined {
    if (typeof args.appDir !== "string") return undefined;
    const dockerfile = path.join(args.appDir, args.dockerfile ?? "Dockerfile");
    return fs.existsSync(dockerfile) && fs.statSync(dockerfile).isFile() ? readDockerfile(fs.readFileSync(dockerfile, "utf8"), args.target) : undefined;
}

/** Problems with where images are pushed to or pulled from, by field under `registry`. @internal */
export function validateRegistry(registry: RegistryArgs | undefined): ArgProblem[] {
    if (registry === undefined || (typeof registry.server === "string" && /^[A-Za-z0-9.-]+(:[0-9]+)?$/.test(registry.server))) return [];
    return [{ field: "registry.server", value: registry.server, allowed: "a registry host with optional port, e.g. ghcr.io or localhost:5000" }];
}

/** Node's name for this machine's CPU → Go's (and so Docker's). @internal */
export function hostPlatform(arch: string = process.arch): string {
    const goArch: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", loong64: "loong64" };
    return `linux/${goArch[arch] ?? arch}`;
}

/** A repository's first segment is a registry host when it has a dot or a port, or is localhost. */
function stripRegistryHost(repository: string): string {
    const [first, ...rest] = repository.split("/");
    return rest.length > 0 && (/[.:]/.test(first) || first === "localhost") ? rest.join("/") : repository;
}

/** Says which build args the Dockerfile never declares: Docker would drop them without a word that reaches `pulumi up`. */
function warnUndeclared(image: pulumi.Resource, app: string, dockerfile: string, facts: DockerfileFacts, buildArgs: Record<string, string>, args: GoAppImageArgs): void {
    const fields: Record<string, string> = { GO_IMAGE: "goImage", RUNTIME_IMAGE: "runtimeImage" };
    for (const arg of undeclaredBuildArgs(facts, Object.keys(buildArgs))) {
        const from = fields[arg] !== undefined && args[fields[arg] as "goImage" | "runtimeImage"] !== undefined ? fields[arg] : `buildArgs.${arg}`;
        void pulumi.log.warn(
            `app "${app}": build arg ${arg} (from ${from}) is not declared in ${dockerfile}, so the build ignores it; ` +
                `declare it there with \`ARG ${arg}\`, or leave ${from} unset for this app.`,
            image,
        );
    }
}

/**
 * What `new GoAppImage(name, args)` builds, known before anything runs: the Dockerfile, the build args and
 * the content-tagged `repository:tag`. @internal
 */
export function plannedImage(args: GoAppImageArgs): { app: string; dockerfile: string; buildArgs: Record<string, string>; tag: string; imageName: string } {
    const app = path.basename(path.resolve(args.appDir));
    const dockerfile = path.join(args.appDir, args.dockerfile ?? "Dockerfile");
    const buildArgs: Record<string, string> = {
        ...args.buildArgs,
        ...(args.goImage !== undefined && { GO_IMAGE: args.goImage }),
        ...(args.runtimeImage !== undefined && { RUNTIME_IMAGE: args.runtimeImage }),
    };
    const tag = contentTag({ context: args.appDir, dockerfile, buildArgs, platform: args.platform, target: args.target });
    const repository = args.repository ?? (args.registry ? `${args.registry.server}/${app}` : `dockyard/${app}`);
    return { app, dockerfile, buildArgs, tag, imageName: `${repository}:${tag}` };
}

/**
 * A Go app's container image, built from its Dockerfile with a content-addressed tag: the same
 * sources, Dockerfile and build args always give the same tag, so an unchanged app causes no
 * replacement downstream. Pushed when a registry is given, local otherwise.
 */
export class GoAppImage extends pulumi.ComponentResource {
    /**
     * The image to deploy: `repo@sha256:…` when pushed, `repo:<content tag>` when local. Unknown in a
     * preview that would push, since the digest exists only once pushed.
     */
    public readonly imageRef: pulumi.Output<string>;
    /** `repository:tag`. */
    public readonly imageName: pulumi.Output<string>;
    /** The content tag, `sha-` and 20 hex digits. */
    public readonly tag: pulumi.Output<string>;
    /** `repository:<content tag>`, known before the build: what the image is built from, as a job's run record names it. */
    public readonly source: string;
    /** The underlying build. */
    public readonly image: docker.Image;
    /** Whether the built stage has a `HEALTHCHECK` (its own or an earlier stage's), as its Dockerfile says. */
    public readonly hasHealthcheck: boolean;
    /** The ports the built stage `EXPOSE`s, as its Dockerfile says. */
    public readonly exposedPorts: number[];

    constructor(name: string, args: GoAppImageArgs, opts?: pulumi.ComponentResourceOptions) {
        throwIfAny(`GoAppImage "${name}"`, validateGoAppImageArgs(args));
        super("dockyard:image:GoAppImage", name, {}, opts);

        const { app, dockerfile, buildArgs, tag, imageName } = plannedImage(args);
        this.source = imageName;
        const facts = readDockerfile(fs.readFileSync(dockerfile, "utf8"), args.target);
        this.hasHealthcheck = facts.healthcheck;
        this.exposedPorts = facts.exposedPorts;
        warnUndeclared(this, app, dockerfile, facts, buildArgs, args);
        const push = args.registry !== undefined;

        this.image = new docker.Image(
            `${name}-build`,
            {
                imageName,
                build: {
                    context: args.appDir,
                    dockerfile,
                    args: buildArgs,
                    // Always explicit: left unset, the provider prints a paragraph about it on every run.
                    platform: args.platform ?? hostPlatform(),
                    target: args.target,
                    builderVersion: "BuilderBuildKit",
                },
                buildOnPreview: args.buildOnPreview ?? true,
                skipPush: !push,
                registry: args.registry && {
                    server: args.registry.server,
                    username: args.registry.username,
                    password: args.registry.password === undefined ? undefined : pulumi.secret(args.registry.password),
                },
            },
            { parent: this },
        );

        this.tag = pulumi.output(tag);
        this.imageName = this.image.imageName;
        // In a preview that builds, the provider reports the local image ID as repoDigest: not pullable, and
        // not what `up` deploys. Only a real registry digest is passed on; anything else stays unknown.
        this.imageRef = push
            ? this.image.repoDigest.apply((digest) => {
                  if (isDigestRef(digest)) return digest;
                  if (pulumi.runtime.isDryRun()) return pulumi.unknown as unknown as string;
                  throw new Error(`GoAppImage "${name}": the push of ${imageName} reported ${JSON.stringify(digest)}, not a registry digest`);
              })
            : this.image.imageName;
        this.registerOutputs({ imageRef: this.imageRef, imageName: this.imageName, tag: this.tag });
    }
}
