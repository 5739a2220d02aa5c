// Dockyard's guardrails, as CrossGuard resource policies. Each message names
// the resource and the fix. They read resource inputs only, so they judge a
// preview exactly as they judge an update.
import { ROUTE_TLS_ANNOTATION, isFloatingImageRef } from "@dockyard/components";
import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";

const CONTAINER = "docker:index/container:Container";
const SERVICE = "kubernetes:core/v1:Service";

/** Where each Kubernetes workload type keeps its pod template. */
const POD_SPEC_PATHS: Record<string, string[]> = {
    "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
    "kubernetes:apps/v1:StatefulSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:DaemonSet": ["spec", "template", "spec"],
    "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
    "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
    "kubernetes:core/v1:Pod": ["spec"],
};
/** Long-running workloads, which must say when they are live and ready. */
const SERVICE_WORKLOADS = new Set(["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet"]);

interface Container {
    name?: string;
    image?: string;
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
    resources?: { limits?: { cpu?: string; memory?: string } };
    readinessProbe?: object;
    livenessProbe?: object;
}
interface PodSpec {
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
    containers?: Container[];
    initContainers?: Container[];
}

function podSpecOf(args: ResourceValidationArgs): PodSpec | undefined {
    const path = POD_SPEC_PATHS[args.type];
    if (!path) return undefined;
    return path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], args.props) as PodSpec | undefined;
}

function containersOf(pod: PodSpec): Container[] {
    return [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
}

const who = (args: ResourceValidationArgs) => `${args.type} "${args.name}"`;

/** Known image references only: during a preview an image built in the same update is not known yet. */
const isKnownString = (v: unknown): v is string => typeof v === "string" && v.length > 0 && !v.startsWith("04da6b54-");

export const imagesPinned: ResourceValidationPolicy = {
    name: "dockyard-images-pinned",
    description: "Images are deployed by digest or content tag, never by `latest` or untagged.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const fix = "deploy it by digest (repo@sha256:…) or a content tag, e.g. GoAppImage's imageRef";
        if (args.type === CONTAINER) {
            const image = args.props.image;
            if (isKnownString(image) && isFloatingImageRef(image)) report(`${who(args)} runs image "${image}", which can change under it: ${fix}.`);
            return;
        }
        if (args.type === "docker:index/image:Image") {
            const name = args.props.imageName;
            if (isKnownString(name) && isFloatingImageRef(name)) report(`${who(args)} is tagged "${name}", which later builds overwrite: tag it by content, as GoAppImage does.`);
            return;
        }
        const pod = podSpecOf(args);
        for (const c of pod ? containersOf(pod) : []) {
            if (isKnownString(c.image) && isFloatingImageRef(c.image)) report(`${who(args)} container "${c.name}" runs image "${c.image}": ${fix}.`);
        }
    },
};

function isRootUser(user: unknown): boolean {
    if (typeof user !== "string" || user.trim() === "") return true;
    const [name] = user.split(":");
    return name === "0" || name === "root";
}

export const hardenedWorkloads: ResourceValidationPolicy = {
    name: "dockyard-hardened-workloads",
    description: "Containers and pods run as non-root with a read-only root filesystem, no privilege escalation and all capabilities dropped.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type === CONTAINER) {
            hardenedDockerContainer(args, report);
            return;
        }
        const pod = podSpecOf(args);
        if (!pod) return;
        for (const c of containersOf(pod)) {
            const sc = c.securityContext ?? {};
            const missing: string[] = [];
            if (!(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) || (sc.runAsUser ?? pod.securityContext?.runAsUser) === 0) missing.push("runAsNonRoot: true (and a non-zero runAsUser)");
            if (sc.readOnlyRootFilesystem !== true) missing.push("readOnlyRootFilesystem: true");
            if (sc.allowPrivilegeEscalation !== false) missing.push("allowPrivilegeEscalation: false");
            if (!(sc.capabilities?.drop ?? []).some((cap) => cap.toUpperCase() === "ALL")) missing.push('capabilities.drop: ["ALL"]');
            if (missing.length) report(`${who(args)} container "${c.name}" is not hardened: set securityContext ${missing.join(", ")}.`);
        }
    },
};

function hardenedDockerContainer(args: ResourceValidationArgs, report: ReportViolation) {
    const p = args.props;
    const missing: string[] = [];
    if (isRootUser(p.user)) missing.push('user: a non-root UID such as "65532:65532"');
    if (p.readOnly !== true) missing.push("readOnly: true");
    if (!(p.capabilities?.drops ?? []).some((cap: string) => cap.toUpperCase() === "ALL")) missing.push('capabilities.drops: ["ALL"]');
    if (!(p.securityOpts ?? []).some((o: string) => /^no-new-privileges(:true)?$/.test(o))) missing.push('securityOpts: ["no-new-privileges:true"]');
    if (p.privileged === true) missing.push("privileged: false");
    if (missing.length) report(`${who(args)} is not hardened: set ${missing.join(", ")}.`);
}

export const resourceLimits: ResourceValidationPolicy = {
    name: "dockyard-resource-limits",
    description: "Every workload has CPU and memory limits.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type === CONTAINER) {
            const missing = [!(args.props.memory > 0) && "memory (MiB)", !(args.props.cpus || args.props.cpuQuota > 0) && "cpus"].filter(Boolean);
            if (missing.length) report(`${who(args)} has no ${missing.join(" or ")} limit: set them (DockerWorkload's limits do).`);
            return;
        }
        const pod = podSpecOf(args);
        for (const c of pod ? containersOf(pod) : []) {
            const missing = ["cpu", "memory"].filter((k) => !c.resources?.limits?.[k as "cpu" | "memory"]);
            if (missing.length) report(`${who(args)} container "${c.name}" has no ${missing.join(" or ")} limit: set resources.limits.`);
        }
    },
};

export const healthProbes: ResourceValidationPolicy = {
    name: "dockyard-health-probes",
    description: "Every Kubernetes service workload has readiness and liveness probes.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (!SERVICE_WORKLOADS.has(args.type)) return;
        for (const c of podSpecOf(args)?.containers ?? []) {
            const missing = [!c.readinessProbe && "readinessProbe", !c.livenessProbe && "livenessProbe"].filter(Boolean);
            if (missing.length) report(`${who(args)} container "${c.name}" has no ${missing.join(" or ")}: add them so rollouts and restarts follow the app's health.`);
        }
    },
};

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

export const explicitHostIp: ResourceValidationPolicy = {
    name: "dockyard-explicit-host-ip",
    description: "Docker containers publish ports only on an explicit, non-wildcard host IP.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: { allowWildcard: { type: "boolean", default: false, description: "Allow publishing on 0.0.0.0 or :: (every interface)." } },
    },
    validateResource: (args, report) => {
        if (args.type !== CONTAINER) return;
        const { allowWildcard } = args.getConfig<{ allowWildcard: boolean }>();
        for (const port of args.props.ports ?? []) {
            const ip = port.ip;
            if (ip === undefined || ip === "") {
                report(`${who(args)} publishes port ${port.internal} on every interface by default: set ports[].ip, e.g. "127.0.0.1".`);
            } else if (WILDCARDS.has(ip) && !allowWildcard) {
                report(`${who(args)} publishes port ${port.internal} on ${ip}: bind it to a specific address such as "127.0.0.1", or allow wildcards in this policy's config.`);
            }
        }
    },
};

export const loadBalancerAllowed: ResourceValidationPolicy = {
    name: "dockyard-load-balancer-allowed",
    description: "Kubernetes Services of type LoadBalancer only where the stack allows it.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: { allowLoadBalancer: { type: "boolean", default: false, description: "This stack may expose Services through a cloud load balancer." } },
    },
    validateResource: (args, report) => {
        if (args.type !== SERVICE || args.props.spec?.type !== "LoadBalancer") return;
        if (!args.getConfig<{ allowLoadBalancer: boolean }>().allowLoadBalancer) {
            report(`${who(args)} is of type LoadBalancer, which this stack does not allow: use ClusterIP (or NodePort), or set allowLoadBalancer in this policy's config for the stack.`);
        }
    },
};

const INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";
const HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute";

interface RouteRule {
    filters?: { type?: string; requestRedirect?: { scheme?: string } }[];
}

/** A route whose every rule redirects to HTTPS serves nothing in plain text. */
const redirectsToHttps = (rules: RouteRule[] | undefined) =>
    (rules ?? []).length > 0 && (rules ?? []).every((r) => (r.filters ?? []).some((f) => f.type === "RequestRedirect" && f.requestRedirect?.scheme === "https"));

export const routeTls: ResourceValidationPolicy = {
    name: "dockyard-route-tls",
    description: "Routes from outside the cluster are served over TLS (mandatory by default; a stack's policy config may make it advisory).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type === INGRESS) {
            const covered = new Set<string>((args.props.spec?.tls ?? []).flatMap((t: { hosts?: string[] }) => t.hosts ?? []));
            const plain = (args.props.spec?.rules ?? []).map((r: { host?: string }) => r.host ?? "*").filter((h: string) => !covered.has(h));
            if (plain.length) report(`${who(args)} serves ${plain.join(", ")} over plain HTTP: give the route TLS (a cert-manager issuer), or drop tls: false.`);
            return;
        }
        if (args.type !== HTTP_ROUTE || redirectsToHttps(args.props.spec?.rules)) return;
        // Whether the listener terminates TLS is the Gateway's: the component records what the route asked for.
        if (args.props.metadata?.annotations?.[ROUTE_TLS_ANNOTATION] === "false") {
            report(`${who(args)} is declared plain HTTP (tls: false): attach it to an HTTPS listener and drop tls: false.`);
        }
    },
};

export const policies: ResourceValidationPolicy[] = [imagesPinned, hardenedWorkloads, resourceLimits, healthProbes, explicitHostIp, loadBalancerAllowed, routeTls];
