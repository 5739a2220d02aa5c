// Stack config: parsed and validated in one place, every problem reported at
// once by config key, before any resource is registered.
import { type GoAppArgs, type Target, formatProblem, validateGoAppArgs } from "@dockyard/components";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";

const NS = "dockyard";

const quantities = z.strictObject({ cpu: z.string().optional(), memory: z.string().optional() });

/** One entry of `dockyard:apps`: the app's folder name → how to run it. */
const appSchema = z.strictObject({
    kind: z.enum(["service", "job"]).optional(),
    port: z.number().optional(),
    env: z.record(z.string(), z.string()).optional(),
    args: z.array(z.string()).optional(),
    limits: quantities.optional(),
    // Kubernetes only.
    requests: quantities.optional(),
    replicas: z.number().optional(),
    serviceType: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).optional(),
    servicePort: z.number().optional(),
    // Docker only.
    hostPort: z.number().optional(),
    containerName: z.string().optional(),
});

const stackSchema = z.strictObject({
    target: z.enum(["docker", "kubernetes"]),
    apps: z.record(z.string(), z.unknown()).refine((apps) => Object.keys(apps).length > 0, "at least one app"),
    appsDir: z.string().default("apps"),
    buildOnPreview: z.boolean().default(true),
    goImage: z.string().optional(),
    runtimeImage: z.string().optional(),
    platform: z.string().optional(),
    registry: z.strictObject({ server: z.string(), username: z.string().optional() }).optional(),
    registryPassword: z.string().optional(),
    // Kubernetes only.
    namespace: z.string().optional(),
    createNamespace: z.boolean().optional(),
    allowLoadBalancer: z.boolean().optional(),
    // Docker only.
    hostIp: z.string().optional(),
});

export type AppConfig = z.infer<typeof appSchema>;
type StackSettings = z.infer<typeof stackSchema>;

const KUBERNETES_ONLY = { app: ["requests", "replicas", "serviceType", "servicePort"], stack: ["namespace", "createNamespace", "allowLoadBalancer"] };
const DOCKER_ONLY = { app: ["hostPort", "containerName"], stack: ["hostIp"] };

/** What a stack deploys, ready for `compose`. */
export interface StackPlan {
    target: Target;
    /** Kubernetes: the namespace every app lands in, created by the program unless `createNamespace` is false. */
    namespace?: string;
    createNamespace: boolean;
    /** One GoApp per configured app, in config order. */
    apps: { name: string; args: GoAppArgs }[];
}

export class StackConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "StackConfigError";
    }
}

/** The raw `dockyard:*` values, JSON-decoded where they are JSON (Pulumi passes objects and numbers as strings). */
export function readRawConfig(all: Record<string, string> = pulumi.runtime.allConfig()): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(all)) {
        if (!key.startsWith(`${NS}:`)) continue;
        try {
            raw[key.slice(NS.length + 1)] = JSON.parse(value);
        } catch {
            raw[key.slice(NS.length + 1)] = value;
        }
    }
    return raw;
}

/** True when a key was given as a secret. Relies on the SDK's runtime helper; absent, nothing is refused. */
function isSecretKey(key: string): boolean {
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
    return runtime.isConfigSecret?.(`${NS}:${key}`) ?? true;
}

const show = (value: unknown) => (value === undefined ? "(unset)" : JSON.stringify(value));

function zodProblems(prefix: string, error: z.ZodError): string[] {
    return error.issues.flatMap((issue) => {
        const at = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
        const key = `${NS}:${at}`;
        switch (issue.code) {
            case "unrecognized_keys":
                return issue.keys.map((k) => `${NS}:${at ? `${at}.` : ""}${k}: unknown key`);
            case "invalid_value":
                return `${key} = ${show(issue.input)}: one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
            case "invalid_type":
                return `${key} = ${show(issue.input)}: ${issue.input === undefined ? "required, " : ""}${issue.expected === "record" ? "an object" : `a ${issue.expected}`}`;
            default:
                return `${key} = ${show(issue.input)}: ${issue.message}`;
        }
    });
}

/**
 * Turns raw config into a plan, or throws one StackConfigError listing every problem: unknown keys,
 * wrong types, unknown apps, values out of range, keys that do not apply to the stack's target.
 */
export function parseStackConfig(raw: Record<string, unknown>, registryPassword?: pulumi.Input<string>): StackPlan {
    const stack = stackSchema.safeParse(raw, { reportInput: true });
    if (!stack.success) {
        // The apps cannot be judged without a target and an apps map: report the top level alone.
        throw new StackConfigError(zodProblems("", stack.error));
    }
    const settings = stack.data;
    // A stack-wide setting is checked once per app: a Set reports each problem once.
    const problems = new Set<string>();
    const wrongTarget = settings.target === "docker" ? KUBERNETES_ONLY : DOCKER_ONLY;
    for (const key of wrongTarget.stack) {
        if (raw[key] !== undefined) problems.add(`${NS}:${key} = ${show(raw[key])}: not used when target is "${settings.target}"`);
    }
    if (raw.registryPassword !== undefined && !isSecretKey("registryPassword")) {
        problems.add(`${NS}:registryPassword: must be a secret: set it with pulumi config set --secret ${NS}:registryPassword`);
    }
    if (raw.registryPassword !== undefined && settings.registry === undefined) {
        problems.add(`${NS}:registryPassword: set, but there is no ${NS}:registry to log in to`);
    }

    const known = availableApps(settings.appsDir);
    const apps: StackPlan["apps"] = [];
    for (const [name, entry] of Object.entries(settings.apps)) {
        const key = `${NS}:apps.${name}`;
        if (!known.includes(name)) {
            problems.add(`${key}: no app named ${JSON.stringify(name)} under ${settings.appsDir}/; known apps: ${known.join(", ") || "none"}`);
            continue;
        }
        const app = appSchema.safeParse(entry ?? {}, { reportInput: true });
        if (!app.success) {
            for (const p of zodProblems(`apps.${name}`, app.error)) problems.add(p);
            continue;
        }
        const misplaced = wrongTarget.app.filter((k) => app.data[k as keyof AppConfig] !== undefined);
        for (const k of misplaced) problems.add(`${key}.${k} = ${show(app.data[k as keyof AppConfig])}: not used when target is "${settings.target}"`);
        if (app.data.serviceType === "LoadBalancer" && !settings.allowLoadBalancer) {
            problems.add(`${key}.serviceType = "LoadBalancer": not allowed on this stack; set ${NS}:allowLoadBalancer to true to expose it`);
        }
        if (misplaced.length > 0) continue;

        const args = toGoAppArgs(name, app.data, settings, registryPassword);
        for (const p of validateGoAppArgs(args)) problems.add(formatProblem({ ...p, field: configKeyFor(name, p.field) }));
        apps.push({ name, args });
    }
    if (problems.size > 0) throw new StackConfigError([...problems]);

    return {
        target: settings.target,
        namespace: settings.namespace,
        createNamespace: settings.namespace !== undefined && (settings.createNamespace ?? true),
        apps,
    };
}

/** Apps are the folders under appsDir that hold a Dockerfile. */
export function availableApps(appsDir: string): string[] {
    if (!fs.existsSync(appsDir)) return [];
    return fs
        .readdirSync(appsDir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(appsDir, d.name, "Dockerfile")))
        .map((d) => d.name)
        .sort();
}

/** One app's config and the stack's settings, as the GoApp component takes them. */
export function toGoAppArgs(name: string, app: AppConfig, s: StackSettings, registryPassword?: pulumi.Input<string>): GoAppArgs {
    const image: GoAppArgs["image"] = {
        goImage: s.goImage,
        runtimeImage: s.runtimeImage,
        platform: s.platform,
        buildOnPreview: s.buildOnPreview,
        registry: s.registry && { server: s.registry.server, username: s.registry.username, password: registryPassword },
    };
    const common = { appDir: path.join(s.appsDir, name), kind: app.kind, port: app.port, env: app.env, args: app.args, image };
    if (s.target === "docker") {
        const hostIp = app.kind === "job" ? undefined : s.hostIp;
        return { ...common, target: "docker", docker: { hostPort: app.hostPort, hostIp, containerName: app.containerName, limits: app.limits } };
    }
    return {
        ...common,
        target: "kubernetes",
        kubernetes: {
            namespace: s.namespace,
            replicas: app.replicas,
            serviceType: app.serviceType,
            servicePort: app.servicePort,
            requests: app.requests,
            limits: app.limits,
        },
    };
}

/** Where a GoApp argument came from in the stack config, so errors name the key the user wrote. */
function configKeyFor(app: string, field: string): string {
    const [head, ...rest] = field.split(".");
    const tail = rest.join(".");
    if (head === "image") {
        if (tail.startsWith("registry")) return `${NS}:${tail}`;
        return `${NS}:${tail === "dockerfile" ? `apps.${app}` : tail}`;
    }
    if (head === "appDir") return `${NS}:apps.${app}`;
    if (head === "docker" || head === "kubernetes") {
        if (tail === "hostIp" || tail === "namespace") return `${NS}:${tail}`;
        return `${NS}:apps.${app}.${tail}`;
    }
    return `${NS}:apps.${app}.${field}`;
}
