// The public surface of @dockyard/components: named exports only.
export { GoApp, type GoAppArgs, type GoAppImageSource, type Target, TARGETS, validateGoAppArgs } from "./goApp";
export { GoAppImage, type GoAppImageArgs, type RegistryArgs, validateGoAppImageArgs } from "./goAppImage";
export { DockerWorkload, type DockerWorkloadArgs, type DockerRestartPolicy, DOCKER_DEFAULTS, validateDockerWorkloadArgs } from "./dockerWorkload";
export {
    KubernetesWorkload,
    type KubernetesWorkloadArgs,
    type ServiceType,
    SERVICE_TYPES,
    KUBERNETES_DEFAULTS,
    validateKubernetesWorkloadArgs,
    type KubernetesObjectRef,
    kubernetesWorkloadObjects,
    STACK_ANNOTATION,
    currentStackName,
    namesStack,
    type JobRun,
    jobRun,
    jobRunCompleted,
    type RunRecordObject,
} from "./kubernetesWorkload";
export { type Autoscale } from "./autoscaling";
export { Gateway, type GatewayArgs, GATEWAY_LISTENERS, gatewayObjects, validateGatewayArgs } from "./gateway";
export { type RouteArgs, type GatewayRef, type IngressRef, type RouteTls, type IssuerRef, type IssuerKind, ISSUER_KINDS, ROUTE_TLS_ANNOTATION } from "./route";
export { type NetworkPolicyArgs, type NetworkPeer } from "./networkPolicy";
export { type WorkloadArgs, type WorkloadKind, WORKLOAD_KINDS, type ResourceQuantities, type RegistryCredentials, type MetricsArgs, type MetricsScrape, METRICS_SCRAPES } from "./types";
export { type ArgProblem, InvalidArgsError, formatProblem } from "./internal/problems";
export { isDigestRef, isFloatingImageRef } from "./internal/imageRef";
export { checkRegistryLogin, RegistryLoginError } from "./internal/registryLogin";
export { type ClusterObject, type ClusterSettings, ClusterReadError, kubectlGet, kubectlResource, notOurs } from "./internal/cluster";
