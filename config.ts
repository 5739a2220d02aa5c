// Stack config: parsed and validated in one place, every problem reported at
// once by config key, before any resource is registered.
import { GATEWAY_LISTENERS, type GatewayArgs, type GoAppArgs, type RouteArgs, type Target, formatProblem, validateGatewayArgs, validateGoAppArgs } from "@dockyard/components";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const NS = "dockyard";

/**
 * An environment value: a string, and a number or boolean read as the string it was written as (YAML and
 * `pulumi config set --path` store `8080` and `true` typed).
 */
const envValue = z.union([z.string(), z.number(), z.boolean()], { error: "a string (a number or boolean is read as its text)" }).transform(String);
const envMap = z.record(z.string(), envValue);

const quantities = z.strictObject({ cpu: z.string().optional(), memory: z.string().optional() });
const peer = z.strictObject({ namespace: z.string().optional(), podLabels: z.record(z.string(), z.string()).optional(), cidr: z.string().optional() });
const issuer = z.strictObject({ name: z.string(), kind: z.enum(["ClusterIssuer", "Issuer"]).optional() });

/** One entry of `dockyard:apps`: the app's folder name → how to run it. */
const appShape = {
    kind: z.enum(["service", "job"]).optional(),
    /** A prebuilt image by digest: deployed as given, nothing built. */
    image: z.string().optional(),
    port: z.number().optional(),
    env: envMap.optional(),
    args: z.array(z.string()).optional(),
    limits: quantities.optional(),
    /** Prometheus metrics on a port of their own; `scrape` on Kubernetes only. */
    metrics: z.strictObject({ port: z.number(), path: z.string().optional(), scrape: z.enum(["annotations", "serviceMonitor"]).optional() }).optional(),
    // Kubernetes only.
    requests: quantities.optional(),
    replicas: z.number().optional(),
    autoscale: z
        .strictObject({ minReplicas: z.number(), maxReplicas: z.number(), cpuUtilization: z.number().optional(), requestsPerSecond: z.number().optional() })
        .optional(),
    nodeLossTolerationSeconds: z.number().optional(),
    serviceType: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).optional(),
    servicePort: z.number().optional(),
    readinessPath: z.string().optional(),
    livenessPath: z.string().optional(),
    ttlSecondsAfterFinished: z.number().optional(),
    /** A way in from outside the cluster, through the stack's `gateway` or `ingress`. */
    route: z.strictObject({ hosts: z.array(z.string()), path: z.string().optional(), tls: z.boolean().optional() }).optional(),
    /** `false`: no NetworkPolicy; else the peers it admits beside the namespace and the route's proxy. */
    networkPolicy: z.union([z.literal(false), z.strictObject({ allowFrom: z.array(peer).optional(), scrapeFrom: z.array(peer).optional() })]).optional(),
    // Docker only.
    hostPort: z.number().optional(),
    containerName: z.string().optional(),
    imageHealthcheck: z.boolean().optional(),
};
const appSchema = z.strictObject(appShape);
/** The same fields, unknown keys dropped: the values beside a typo are still checked. */
const looseAppSchema = z.object(appShape);

const stackSchema = z.strictObject({
    target: z.enum(["docker", "kubernetes"]),
    apps: z.record(z.string(), z.unknown()).refine((apps) => Object.keys(apps).length > 0, "at least one app"),
    appsDir: z.string().default("apps"),
    buildOnPreview: z.boolean().default(true),
    goImage: z.string().optional(),
    runtimeImage: z.string().optional(),
    platform: z.string().optional(),
    registry: z.strictObject({ server: z.string(), username: z.string().optional(), checkLogin: z.boolean().optional() }).optional(),
    /** Take each app's image from this stack's `apps.<app>.imageRef` output instead of building. */
    promoteFrom: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/, "a stack name: <stack>, or <organization>/<project>/<stack>").optional(),
    registryPassword: z.string().optional(),
    /**
     * Secret environment values, per app: `<app>.<NAME>`. A key of its own because Pulumi marks a whole key
     * secret when any leaf set with `--secret --path` is: inside `apps` it could not tell which value is.
     */
    secretEnv: z.record(z.string(), envMap).optional(),
    // Kubernetes only.
    namespace: z.string().optional(),
    createNamespace: z.boolean().optional(),
    allowLoadBalancer: z.boolean().optional(),
    podSecurityVersion: z.string().regex(/^(v1\.[0-9]+|latest)$/, 'a Kubernetes minor version such as "v1.37", or "latest"').optional(),
    imagePullSecrets: z.array(z.string()).optional(),
    readyTimeoutSeconds: z.number().optional(),
    /**
     * Where routes attach: an existing Gateway (`name`, `namespace`, `sectionName`), or, with
     * `gatewayClassName`, one the stack makes in its namespace (HTTPS for every route's host, from `issuer`).
     */
    gateway: z
        .strictObject({
            name: z.string().optional(),
            namespace: z.string().optional(),
            sectionName: z.string().optional(),
            gatewayClassName: z.string().optional(),
            issuer: issuer.optional(),
            httpRedirect: z.boolean().optional(),
        })
        .optional(),
    /**
     * The cluster's custom metrics pipeline: `requestsPerSecond` names the pod metric its adapter (such as
     * prometheus-adapter) serves each pod's request rate under, for `apps.<app>.autoscale.requestsPerSecond`.
     */
    customMetrics: z.strictObject({ requestsPerSecond: z.string() }).optional(),
    /** Routes as Ingresses instead, for clusters without the Gateway API. */
    ingress: z.strictObject({ className: z.string().optional(), controllerNamespace: z.string(), issuer: issuer.optional() }).optional(),
    // Docker only.
    hostIp: z.string().optional(),
});

export type AppConfig = z.infer<typeof appSchema>;
type StackSettings = z.infer<typeof stackSchema>;

const KUBERNETES_ONLY = {
    app: ["requests", "replicas", "autoscale", "nodeLossTolerationSeconds", "serviceType", "servicePort", "readinessPath", "livenessPath", "ttlSecondsAfterFinished", "networkPolicy"],
    stack: ["namespace", "createNamespace", "allowLoadBalancer", "podSecurityVersion", "imagePullSecrets", "readyTimeoutSeconds", "gateway", "ingress", "customMetrics"],
};
const DOCKER_ONLY = { app: ["hostPort", "containerName", "imageHealthcheck"], stack: ["hostIp"] };

/** What a stack deploys, ready for `compose`. */
export interface StackPlan {
    target: Target;
    /** Kubernetes: the namespace every app lands in, created by the program unless `createNamespace` is false. */
    namespace?: string;
    createNamespace: boolean;
    /** Kubernetes: the Pod Security Standards version the created namespace enforces. */
    podSecurityVersion: string;
    /** One GoApp per configured app, in config order. */
    apps: { name: string; args: GoAppArgs }[];
    /** The stack whose deployed image digests this one promotes, for every app without a pinned `image`. */
    promoteFrom?: string;
    /** The registry login to check before anything is created: set when a user and password are configured. */
    registryLogin?: { server: string; username: string; password: pulumi.Input<string> };
    /** Kubernetes: the Gateway the stack makes for its routes, in its namespace; the apps' routes attach to it. */
    gateway?: GatewayArgs;
}

/** Every config problem at once; a RunError, so the CLI prints this message alone, without a stack trace. */
export class StackConfigError extends pulumi.RunError {
    constructor(readonly problems: string[]) {
        super(`invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "StackConfigError";
    }
}

/** The keys meant to hold secrets: each must be set with `--secret`, and their values never show in an error. */
const SECRET_KEYS = ["registryPassword", "secretEnv"];

/** True for a schema that takes a string, under optional and default wrappers. */
function takesString(schema: z.ZodType | undefined): boolean {
    let s = schema;
    while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
    return s instanceof z.ZodString;
}

/**
 * The raw `dockyard:*` values. Pulumi passes objects and numbers as strings: each is JSON-decoded, but a key
 * whose schema wants a string keeps what was written (an all-digit password stays a string).
 */
export function readRawConfig(all: Record<string, string> = pulumi.runtime.allConfig()): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(all)) {
        if (!key.startsWith(`${NS}:`)) continue;
        const name = key.slice(NS.length + 1);
        if (takesString(stackSchema.shape[name as keyof typeof stackSchema.shape])) {
            raw[name] = value;
            continue;
        }
        try {
            raw[name] = JSON.parse(value);
        } catch {
            raw[name] = value;
        }
    }
    return raw;
}

/**
 * Settings a machine rather than a stack decides, taken from the environment when the stack leaves
 * them unset: `DOCKYARD_GO_IMAGE` names the build stage's Go image (offline, or behind a mirror)
 * without editing the tracked stack file. A value in the stack config wins.
 */
export function withEnvironmentDefaults(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
    const goImage = env.DOCKYARD_GO_IMAGE;
    return raw.goImage === undefined && goImage !== undefined && goImage !== "" ? { ...raw, goImage } : raw;
}

/** Whether Pulumi says a key holds a secret: set with `--secret` (a whole key, or a leaf under `--path`), or from an ESC secret. */
export type SecretKeyTest = (key: string) => boolean;

/** The SDK's own answer, from the secret keys the engine passes the program. */
const sdkSecretKeyTest: SecretKeyTest = (key) => {
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
    return runtime.isConfigSecret?.(`${NS}:${key}`) ?? false;
};

/** What the stack config holds beside its values: which keys are secret, and where its stack file's secret leaves are. */
export interface ConfigSecrets {
    /** Which keys are secret. Default: the SDK's record of the stack's secret keys. */
    isSecret?: SecretKeyTest;
    /** The secret leaves of each key as the stack file has them (`apps.server.env.API_KEY`), to name them in an error. Default: none known. */
    secretLeaves?: (key: string) => string[];
}

/**
 * The dotted paths of the `secure:` values under `dockyard:<key>` in a stack file's text: where a secret set
 * with `--path` sits inside a key that Pulumi can only mark secret as a whole.
 */
export function stackFileSecretLeaves(stackFileText: string | undefined): (key: string) => string[] {
    if (stackFileText === undefined) return () => [];
    let parsed: unknown;
    try {
        parsed = parseYaml(stackFileText);
    } catch {
        return () => [];
    }
    const config = (parsed as { config?: Record<string, unknown> } | null)?.config ?? {};
    const walk = (value: unknown, at: string): string[] => {
        if (value === null || typeof value !== "object") return [];
        const entries = Object.entries(value as Record<string, unknown>);
        if (entries.length === 1 && entries[0][0] === "secure") return [at];
        return entries.flatMap(([k, v]) => walk(v, Array.isArray(value) ? `${at}[${k}]` : `${at}.${k}`));
    };
    return (key) => walk(config[`${NS}:${key}`], key);
}

const show = (value: unknown) => (value === undefined ? "(unset)" : JSON.stringify(value));

/** A value as an error shows it: a secret key's never. */
const shown = (at: string, value: unknown) => (SECRET_KEYS.includes(at.split(".")[0]) && value !== undefined ? "[secret]" : show(value));

function zodProblems(prefix: string, error: z.ZodError): string[] {
    return error.issues.flatMap((issue) => {
        const at = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
        const key = `${NS}:${at}`;
        const show = (value: unknown) => shown(at, value);
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
export function parseStackConfig(raw: Record<string, unknown>, registryPassword?: pulumi.Input<string>, secrets: ConfigSecrets = {}): StackPlan {
    const isSecret = secrets.isSecret ?? sdkSecretKeyTest;
    // Before anything else reads a value: a secret in a key that passes its values on as plain text.
    const misplacedSecrets = Object.keys(raw)
        .filter((key) => !SECRET_KEYS.includes(key) && isSecret(key))
        .map((key) => misplacedSecretProblem(key, secrets.secretLeaves?.(key) ?? []));
    if (misplacedSecrets.length > 0) throw new StackConfigError(misplacedSecrets);
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
    if (raw.registryPassword !== undefined && !isSecret("registryPassword")) {
        problems.add(`${NS}:registryPassword: must be a secret: set it with pulumi config set --secret ${NS}:registryPassword`);
    }
    if (raw.secretEnv !== undefined && !isSecret("secretEnv")) {
        problems.add(`${NS}:secretEnv: must be a secret: set each value with pulumi config set --secret --path ${NS}:secretEnv.<app>.<NAME>`);
    }
    for (const [name, values] of Object.entries(settings.secretEnv ?? {})) {
        if (!(name in settings.apps)) problems.add(`${NS}:secretEnv.${name}: no app "${name}" in ${NS}:apps; secret values go to an app the stack deploys`);
        const plain = (settings.apps[name] as { env?: Record<string, unknown> } | undefined)?.env ?? {};
        for (const variable of Object.keys(values)) {
            if (variable in plain) problems.add(`${NS}:secretEnv.${name}.${variable}: also set in ${NS}:apps.${name}.env; a variable is either plain or secret`);
        }
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
        const strict = appSchema.safeParse(entry ?? {}, { reportInput: true });
        if (!strict.success) for (const p of zodProblems(`apps.${name}`, strict.error)) problems.add(p);
        const app = looseAppSchema.safeParse(entry ?? {});
        if (!app.success) continue;
        // A route the stack cannot render is reported here, once, and not passed on to be refused again.
        const routeRefused = app.data.route !== undefined && (settings.target === "docker" || (settings.gateway === undefined && settings.ingress === undefined));
        if (app.data.route !== undefined && settings.target === "docker") {
            problems.add(
                `${key}.route = ${show(app.data.route)}: not on the Docker target, whose services are published on ${NS}:hostIp and ` +
                    `${key}.hostPort (the endpoint output); routes, TLS and network policies are for Kubernetes stacks`,
            );
        } else if (app.data.route !== undefined && settings.gateway === undefined && settings.ingress === undefined) {
            problems.add(`${key}.route = ${show(app.data.route)}: needs ${NS}:gateway (a Gateway API Gateway to attach to) or ${NS}:ingress (an Ingress class) on the stack`);
        } else if (app.data.route?.tls === false && settings.gateway?.gatewayClassName !== undefined) {
            problems.add(`${key}.route.tls = false: not on the stack's own Gateway, which serves its routes over HTTPS and answers plain HTTP with a redirect`);
        }
        if (app.data.autoscale?.requestsPerSecond !== undefined && settings.target === "kubernetes" && settings.customMetrics === undefined) {
            problems.add(
                `${key}.autoscale.requestsPerSecond = ${show(app.data.autoscale.requestsPerSecond)}: needs ${NS}:customMetrics.requestsPerSecond on the stack, ` +
                    `the pod metric the cluster's custom metrics adapter serves each pod's request rate under (prometheus-adapter's usual one: "http_requests_per_second")`,
            );
        }
        const misplaced = wrongTarget.app.filter((k) => app.data[k as keyof AppConfig] !== undefined);
        for (const k of misplaced) problems.add(`${key}.${k} = ${show(app.data[k as keyof AppConfig])}: not used when target is "${settings.target}"`);
        if (app.data.serviceType === "LoadBalancer" && !settings.allowLoadBalancer) {
            problems.add(`${key}.serviceType = "LoadBalancer": not allowed on this stack; set ${NS}:allowLoadBalancer to true to expose it`);
        }
        // What is misplaced is reported above; the rest of the app's values are still checked.
        const checked = Object.fromEntries(Object.entries(app.data).filter(([k]) => !misplaced.includes(k) && !(k === "route" && routeRefused))) as AppConfig;
        const args = toGoAppArgs(name, checked, settings, registryPassword);
        for (const p of validateGoAppArgs(args)) problems.add(formatProblem({ ...p, field: configKeyFor(name, p.field, settings.secretEnv?.[name]) }));
        apps.push({ name, args });
    }
    for (const p of clashes(apps)) problems.add(p);
    const gateway = settings.target === "kubernetes" ? ownGateway(settings, apps, raw) : { problems: [] };
    for (const p of gateway.problems) problems.add(p);
    if (problems.size > 0) throw new StackConfigError([...problems]);

    return {
        target: settings.target,
        namespace: settings.namespace,
        createNamespace: settings.namespace !== undefined && (settings.createNamespace ?? true),
        podSecurityVersion: settings.podSecurityVersion ?? POD_SECURITY_VERSION,
        apps,
        promoteFrom: settings.promoteFrom,
        registryLogin:
            settings.registry?.username !== undefined && registryPassword !== undefined && settings.registry.checkLogin !== false
                ? { server: settings.registry.server, username: settings.registry.username, password: registryPassword }
                : undefined,
        gateway: gateway.args,
    };
}

/**
 * Why a secret cannot stay in `key`, and what to run instead. Pulumi marks a key secret as a whole, so the
 * program cannot tell which of its values is: passed on, every one would reach the cluster and the state
 * as plain text. Secret env values have a key of their own; other keys take no secrets.
 */
function misplacedSecretProblem(key: string, leaves: string[]): string {
    const envLeaf = /^apps\.([^.]+)\.env\.([^.]+)$/;
    const moves = leaves.flatMap((leaf) => {
        const m = envLeaf.exec(leaf);
        return m ? [`pulumi config rm --path ${NS}:${leaf} && pulumi config set --secret --path ${NS}:secretEnv.${m[1]}.${m[2]} <value>`] : [];
    });
    const where = leaves.length > 0 ? ` (secret: ${leaves.map((l) => `${NS}:${l}`).join(", ")})` : "";
    const fix =
        moves.length === leaves.length && moves.length > 0
            ? `move it: ${moves.join("; ")}`
            : key === "apps"
              ? `move each secret env value to ${NS}:secretEnv: pulumi config rm --path ${NS}:apps.<app>.env.<NAME> && pulumi config set --secret --path ${NS}:secretEnv.<app>.<NAME> <value>`
              : `set it without --secret (only ${SECRET_KEYS.map((k) => `${NS}:${k}`).join(" and ")} hold secrets)`;
    return `${NS}:${key}: holds a secret value${where}, but Pulumi marks the whole key secret and the program cannot tell which value is, so it would deploy it as plain text; ${fix}`;
}

/** The Gateway name a stack gives its own when `dockyard:gateway.name` is unset. */
export const DEFAULT_GATEWAY_NAME = "dockyard";

/**
 * The stack's own Gateway, when `dockyard:gateway.gatewayClassName` asks for one: HTTPS for every routed
 * host, from its issuer. Every problem with `dockyard:gateway` and `dockyard:ingress`, either way.
 */
function ownGateway(s: StackSettings, apps: StackPlan["apps"], raw: Record<string, unknown>): { args?: StackPlan["gateway"]; problems: string[] } {
    const problems: string[] = [];
    const g = s.gateway;
    if (g !== undefined && s.ingress !== undefined) problems.push(`${NS}:ingress = ${show(raw.ingress)}: not with ${NS}:gateway: a stack renders its routes one way`);
    if (g === undefined) return { problems };
    const makes = g.gatewayClassName !== undefined;
    const refused = makes ? (["namespace", "sectionName"] as const) : (["issuer", "httpRedirect"] as const);
    const why = makes
        ? "unset when the stack makes its Gateway (gatewayClassName): it lives in the stack's namespace, and routes attach to its https listener"
        : "only with gatewayClassName, when the stack makes its Gateway; a Gateway named here is its owner's to configure";
    for (const field of refused) if (g[field] !== undefined) problems.push(`${NS}:gateway.${field} = ${show(g[field])}: ${why}`);
    if (!makes) {
        if (g.name === undefined) problems.push(`${NS}:gateway.name = (unset): the name of an existing Gateway, or set gatewayClassName for the stack to make one`);
        return { problems };
    }
    const hosts = apps.flatMap((a) => a.args.kubernetes?.route?.hosts ?? []);
    if (hosts.length === 0) return { problems: [...problems, `${NS}:gateway.gatewayClassName = ${show(g.gatewayClassName)}: no app has a route to serve; give one dockyard:apps.<app>.route`] };
    const args: NonNullable<StackPlan["gateway"]> = {
        objectName: g.name ?? DEFAULT_GATEWAY_NAME,
        gatewayClassName: g.gatewayClassName!,
        hosts: [...new Set(hosts)],
        issuer: g.issuer!,
        httpRedirect: g.httpRedirect,
        readyTimeoutSeconds: s.readyTimeoutSeconds,
    };
    // Each route's own hosts are reported under its app.
    for (const p of validateGatewayArgs(args).filter((p) => !p.field.startsWith("hosts"))) {
        problems.push(formatProblem({ ...p, field: `${NS}:gateway.${p.field === "objectName" ? "name" : p.field}` }));
    }
    return { args, problems };
}

/** An app's `route` config as the component takes it, on the stack's Gateway or Ingress. */
function routeArgs(route: NonNullable<AppConfig["route"]>, s: StackSettings): RouteArgs | undefined {
    const common = { hosts: route.hosts, path: route.path };
    if (s.gateway?.gatewayClassName !== undefined) {
        return { ...common, tls: {}, gateway: { name: s.gateway.name ?? DEFAULT_GATEWAY_NAME, namespace: s.namespace, sectionName: GATEWAY_LISTENERS.https } };
    }
    if (s.gateway !== undefined) {
        return { ...common, tls: route.tls === false ? false : {}, gateway: { name: s.gateway.name!, namespace: s.gateway.namespace ?? s.namespace, sectionName: s.gateway.sectionName } };
    }
    if (s.ingress !== undefined) {
        return { ...common, tls: route.tls === false ? false : { issuer: s.ingress.issuer }, ingress: { className: s.ingress.className, controllerNamespace: s.ingress.controllerNamespace } };
    }
    return undefined;
}

/**
 * The Pod Security Standards version a created namespace enforces unless `podSecurityVersion` says
 * otherwise: the Kubernetes minor this project is tested against. Pinned rather than `latest`, so a
 * cluster upgrade never tightens the policy under running apps; raise it deliberately.
 */
export const POD_SECURITY_VERSION = "v1.37";

/**
 * Stands in for a digest that promotion fills in: it looks like one, so the plan validates, and
 * `withPromotedImages` replaces every occurrence before anything is registered.
 */
export const PROMOTED = `promoted.invalid/pending@sha256:${"0".repeat(64)}`;

/** The plan with each app that has no pinned image given its digest from the source stack, or every missing app named. */
export function withPromotedImages(plan: StackPlan, source: string, deployed: Record<string, { imageRef?: string } | undefined> | undefined): StackPlan {
    const missing = plan.apps.filter(({ name, args }) => args.image?.ref === PROMOTED && typeof deployed?.[name]?.imageRef !== "string").map((a) => a.name);
    if (missing.length > 0) {
        throw new StackConfigError(
            missing.map(
                (name) =>
                    `${NS}:promoteFrom = ${show(source)}: that stack has not deployed app "${name}" (no apps.${name}.imageRef output); ` +
                    `deploy it there first, or pin ${NS}:apps.${name}.image`,
            ),
        );
    }
    const apps = plan.apps.map(({ name, args }) =>
        args.image?.ref === PROMOTED ? { name, args: { ...args, image: { ...args.image, ref: deployed![name]!.imageRef! } } } : { name, args },
    );
    return { ...plan, apps };
}

/** Two Docker apps cannot hold one host port or one container name: caught here, not halfway through `up`. */
function clashes(apps: StackPlan["apps"]): string[] {
    const problems: string[] = [];
    for (const field of ["hostPort", "containerName"] as const) {
        const owners = new Map<unknown, string[]>();
        for (const { name, args } of apps) {
            const value = args.docker?.[field];
            if (value !== undefined) owners.set(value, [...(owners.get(value) ?? []), name]);
        }
        for (const [value, names] of owners) {
            if (names.length < 2) continue;
            for (const name of names.slice(1)) {
                problems.push(`${NS}:apps.${name}.${field} = ${show(value)}: already taken by app "${names[0]}"; each app needs its own`);
            }
        }
    }
    const routes = new Map<string, string>();
    for (const { name, args } of apps) {
        const route = args.kubernetes?.route;
        for (const host of route?.hosts ?? []) {
            const at = `${host}${route!.path ?? "/"}`;
            const owner = routes.get(at);
            if (owner !== undefined) problems.push(`${NS}:apps.${name}.route = ${show(at)}: host and path already routed to app "${owner}"; give each app its own host or path`);
            else routes.set(at, name);
        }
    }
    return problems;
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
    const registry = s.registry && { server: s.registry.server, username: s.registry.username, password: registryPassword };
    // A promoted app's digest is filled in by the program, once the source stack's outputs are read.
    const image: GoAppArgs["image"] =
        app.image !== undefined || s.promoteFrom !== undefined
            ? { ref: app.image ?? PROMOTED, registry }
            : { goImage: s.goImage, runtimeImage: s.runtimeImage, platform: s.platform, buildOnPreview: s.buildOnPreview, registry };
    // Secret values stay Pulumi secrets: the components pass them through a Secret, never as plain text.
    const secretEnv = Object.entries(s.secretEnv?.[name] ?? {}).map(([k, v]) => [k, pulumi.secret(v)] as const);
    const env = app.env === undefined && secretEnv.length === 0 ? undefined : { ...app.env, ...Object.fromEntries(secretEnv) };
    const common = { appDir: path.join(s.appsDir, name), kind: app.kind, port: app.port, env, args: app.args, metrics: app.metrics, image };
    if (s.target === "docker") {
        const hostIp = app.kind === "job" ? undefined : s.hostIp;
        return {
            ...common,
            target: "docker",
            docker: { hostPort: app.hostPort, hostIp, containerName: app.containerName, limits: app.limits, imageHealthcheck: app.imageHealthcheck },
        };
    }
    return {
        ...common,
        target: "kubernetes",
        kubernetes: {
            namespace: s.namespace,
            replicas: app.replicas,
            autoscale: app.autoscale && {
                ...app.autoscale,
                requestsPerSecondMetric: app.autoscale.requestsPerSecond !== undefined ? s.customMetrics?.requestsPerSecond : undefined,
            },
            nodeLossTolerationSeconds: app.nodeLossTolerationSeconds,
            serviceType: app.serviceType,
            servicePort: app.servicePort,
            readinessPath: app.readinessPath,
            livenessPath: app.livenessPath,
            ttlSecondsAfterFinished: app.ttlSecondsAfterFinished,
            route: app.route && routeArgs(app.route, s),
            networkPolicy: app.networkPolicy,
            requests: app.requests,
            limits: app.limits,
            imagePullSecrets: s.imagePullSecrets,
            readyTimeoutSeconds: s.readyTimeoutSeconds,
        },
    };
}

/** Where a GoApp argument came from in the stack config, so errors name the key the user wrote. */
function configKeyFor(app: string, field: string, secretEnv: Record<string, string> = {}): string {
    const [head, ...rest] = field.split(".");
    const tail = rest.join(".");
    if (head === "env" && tail in secretEnv) return `${NS}:secretEnv.${app}.${tail}`;
    if (head === "image") {
        if (tail.startsWith("registry")) return `${NS}:${tail}`;
        if (tail === "ref") return `${NS}:apps.${app}.image`;
        return `${NS}:${tail === "dockerfile" ? `apps.${app}` : tail}`;
    }
    if (head === "appDir") return `${NS}:apps.${app}`;
    if (head === "kubernetes" && tail.startsWith("route.gateway")) return `${NS}:gateway${tail.slice("route.gateway".length)}`;
    if (head === "kubernetes" && tail.startsWith("route.ingress")) return `${NS}:ingress${tail.slice("route.ingress".length)}`;
    if (head === "kubernetes" && tail === "autoscale.requestsPerSecondMetric") return `${NS}:customMetrics.requestsPerSecond`;
    if (head === "kubernetes" && tail.startsWith("route.tls.issuer")) return `${NS}:ingress.issuer${tail.slice("route.tls.issuer".length)}`;
    if (head === "docker" || head === "kubernetes") {
        if (["hostIp", "namespace", "readyTimeoutSeconds"].includes(tail) || tail.startsWith("imagePullSecrets")) return `${NS}:${tail}`;
        return `${NS}:apps.${app}.${tail}`;
    }
    return `${NS}:apps.${app}.${field}`;
}
