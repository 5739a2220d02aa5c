// One mocks module for every spec: records each registration by type and
// answers with the outputs the real providers would compute.
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import type { ClusterObject } from "../../components/internal/cluster";
import { type PlannedObject, useClusterReader } from "../../ownership";

export interface Registration {
    type: string;
    name: string;
    inputs: Record<string, any>;
    custom: boolean;
    provider?: string;
}

/**
 * Registry logins under mocks: a registry's `/v2/` answers as a real one does (a Basic challenge, then
 * 200 or 401), accepting any password but those in `refusedPasswords`. Hosts in `realRegistryHosts`
 * reach the network, for tests that run a real registry. Set by `useMocks`.
 */
export const registryDouble = { refusedPasswords: new Set<string>(), realRegistryHosts: new Set<string>(), logins: [] as string[] };

/** Back to a registry double that accepts every login and has seen none. */
export function resetRegistryDouble(): void {
    registryDouble.refusedPasswords.clear();
    registryDouble.logins.length = 0;
}

const realFetch = globalThis.fetch;

function installRegistryDouble(): void {
    globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        if (!url.pathname.startsWith("/v2/") || registryDouble.realRegistryHosts.has(url.host)) return realFetch(input, init);
        const auth = new Headers(init?.headers).get("authorization");
        if (!auth) return new Response("", { status: 401, statusText: "Unauthorized", headers: { "WWW-Authenticate": `Basic realm="${url.host}"` } });
        const [user, password] = Buffer.from(auth.replace(/^Basic /, ""), "base64").toString().split(":");
        registryDouble.logins.push(`${url.host} ${user}`);
        return registryDouble.refusedPasswords.has(password) ? new Response("", { status: 401, statusText: "Unauthorized" }) : new Response("{}", { status: 200 });
    };
}

/**
 * The cluster the program's ownership check reads under mocks: `objects` exist in it (none by default), and
 * `reads` records what the program asked for. Set by `useMocks`.
 */
export const clusterDouble = { objects: [] as ClusterObject[], reads: [] as PlannedObject[][] };

/** Other stacks' outputs, by full name (`organization/dockyard/staging`), as StackReference reads them. */
export const stackOutputs = new Map<string, Record<string, unknown>>();

/** What a job container reports when it finishes, for tests of failing jobs. */
export const jobOutcome = { exitCode: 0, logs: "Hello, World!\n" };

let registrations: Registration[] = [];
let previewing = false;

export function resetRegistrations(): void {
    registrations = [];
    clusterDouble.objects = [];
    clusterDouble.reads = [];
    jobOutcome.exitCode = 0;
    jobOutcome.logs = "Hello, World!\n";
}

export function allRegistrations(): readonly Registration[] {
    return registrations;
}

export function ofType(type: string): Registration[] {
    return registrations.filter((r) => r.type === type);
}

/** The single registration of `type` named `name`; fails if there is not exactly one. */
export function registered(type: string, name: string): Registration {
    const found = registrations.filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) {
        const seen = registrations.map((r) => `${r.type} ${r.name}`).join("\n  ");
        throw new Error(`expected one ${type} named ${name}, found ${found.length}; registered:\n  ${seen}`);
    }
    return found[0];
}

const digestOf = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

function outputsFor(args: pulumi.runtime.MockResourceArgs): Record<string, any> {
    const inputs = args.inputs;
    // A preview knows only what was given: everything a provider computes stays unknown. Except that the
    // docker provider, building in a preview, reports the local image ID as repoDigest (not pullable).
    if (previewing) {
        if (args.type === "docker:index/image:Image" && inputs.buildOnPreview) return { ...inputs, repoDigest: `sha256:${digestOf(`local ${inputs.imageName}`)}` };
        return inputs;
    }
    switch (args.type) {
        case "docker:index/image:Image": {
            const repo = String(inputs.imageName).replace(/:[^:/]+$/, "");
            return { ...inputs, repoDigest: `${repo}@sha256:${digestOf(inputs.imageName)}` };
        }
        case "docker:index/container:Container":
            return {
                ...inputs,
                name: inputs.name ?? `${args.name}-${digestOf(args.name).slice(0, 7)}`,
                ports: (inputs.ports ?? []).map((p: any, i: number) => ({ ...p, external: p.external ?? 49153 + i })),
                ...(inputs.attach ? { exitCode: jobOutcome.exitCode, containerLogs: jobOutcome.logs } : {}),
            };
        case "pulumi:pulumi:StackReference":
            return { ...inputs, outputs: stackOutputs.get(inputs.name) ?? {}, secretOutputNames: [] };
        case "docker:index/network:Network":
            return { ...inputs, name: inputs.name ?? `${args.name}-${digestOf(args.name).slice(0, 7)}` };
        default:
            if (args.type.startsWith("kubernetes:")) {
                const metadata = inputs.metadata ?? {};
                return {
                    ...inputs,
                    metadata: {
                        ...metadata,
                        name: metadata.name ?? `${args.name}-${digestOf(args.name).slice(0, 8)}`,
                        namespace: metadata.namespace ?? "default",
                    },
                };
            }
            return inputs;
    }
}

/** Installs the mocks. In preview, outputs the mocks leave unset stay unknown. */
export async function useMocks(opts: { preview?: boolean; stack?: string; organization?: string } = {}): Promise<void> {
    previewing = opts.preview ?? false;
    installRegistryDouble();
    useClusterReader(async (planned) => {
        clusterDouble.reads.push(planned);
        return clusterDouble.objects;
    });
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                registrations.push({ type: args.type, name: args.name, inputs: args.inputs, custom: args.custom ?? false, provider: args.provider });
                return { id: args.custom ? `${args.name}-id` : undefined, state: outputsFor(args) };
            },
            call: (args) => args.inputs,
        },
        "dockyard",
        opts.stack ?? "test",
        opts.preview ?? false,
        // Default: what the CLI passes on a file backend, where there are no organizations.
        opts.organization ?? "organization",
    );
}

export const UNKNOWN = Symbol("unknown");

/** An Output's value, or UNKNOWN when the engine would not know it yet (as in preview). */
export async function valueOf<T>(output: pulumi.Output<T> | undefined): Promise<T | typeof UNKNOWN> {
    if (output === undefined) throw new Error("no output to read");
    const internal = output as unknown as { promise(): Promise<T>; isKnown: Promise<boolean> };
    const [value, isKnown] = await Promise.all([internal.promise(), internal.isKnown]);
    return isKnown ? value : UNKNOWN;
}

/** An Output's value; fails if it is unknown. */
export async function known<T>(output: pulumi.Output<T> | undefined): Promise<T> {
    const value = await valueOf(output);
    if (value === UNKNOWN) throw new Error("output is unknown");
    return value;
}

export function isSecret(output: pulumi.Output<unknown>): Promise<boolean> {
    return (output as unknown as { isSecret: Promise<boolean> }).isSecret;
}

/** The resource's type, preceded by its parent's when it has one, read off its URN (the mocks name one level). */
export async function typeChain(resource: pulumi.Resource): Promise<string[]> {
    const urn = await known(resource.urn);
    return urn.split("::")[2].split("$");
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

/** True for an input that reached the engine as a secret. */
export function isSecretInput(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** The plain value inside a secret input (or the value itself). */
export function unwrap(value: any): any {
    return isSecretInput(value) ? value.value : value;
}

/**
 * Resource options as each child was registered with, by name: pass
 * `transformations` to a component to see what it asked of the engine.
 */
export function optionsRecorder(): { transformations: pulumi.ResourceTransformation[]; options: Map<string, pulumi.CustomResourceOptions> } {
    const options = new Map<string, pulumi.CustomResourceOptions>();
    return {
        options,
        transformations: [
            (args) => {
                options.set(args.name, args.opts as pulumi.CustomResourceOptions);
                return undefined;
            },
        ],
    };
}

/** Lets queued registrations reach the mocks before the test looks at them. */
export function settle(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * What `pulumi.log.warn` said while `fn` ran. Under mocks there is no engine to log to, so the SDK
 * writes warnings to `console.warn`; the components warn while they are constructed.
 */
export function warningsDuring<T>(fn: () => T): { value: T; warnings: string[] } {
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(" "));
    try {
        return { value: fn(), warnings };
    } finally {
        console.warn = original;
    }
}
