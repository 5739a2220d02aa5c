// Offline validation of the Kubernetes objects the components produce: the
// OpenAPI schema through kubernetes-models, and through test/k8scheck the
// official Go API types decoded strictly (unknown keys fail) plus the upstream
// Pod Security Admission library's "restricted" profile.
import { execFileSync } from "child_process";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import * as path from "path";
import { repoRoot } from "./docker";

export interface CheckResult {
    kind: string;
    name: string;
    problems: string[];
}

const models: Record<string, new (data: any) => { validate(): void }> = {
    "apps/v1/Deployment": Deployment,
    "batch/v1/Job": Job,
    "v1/Service": Service,
    "v1/Namespace": Namespace,
    "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
    "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};

/** kubernetes-models' OpenAPI validation: types, required fields, enums. Unknown keys pass here. */
export function openApiProblems(object: { apiVersion: string; kind: string }): string[] {
    const Model = models[`${object.apiVersion}/${object.kind}`];
    if (!Model) return [`no model for ${object.apiVersion} ${object.kind}`];
    try {
        new Model(object).validate();
        return [];
    } catch (e) {
        return [String((e as Error).message)];
    }
}

let checker: string | undefined;

/** Builds test/k8scheck once per process (Go's cache makes rebuilds cheap). */
export function k8scheckBinary(): string {
    if (!checker) {
        const out = path.join(repoRoot, ".tools", "bin", "k8scheck");
        execFileSync("go", ["build", "-o", out, "."], { cwd: path.join(repoRoot, "test", "k8scheck"), stdio: ["ignore", "inherit", "inherit"] });
        checker = out;
    }
    return checker;
}

/** Strict schema and Pod Security `restricted` problems per object, from the Go checker. */
export function k8sCheck(objects: object[]): CheckResult[] {
    const out = execFileSync(k8scheckBinary(), [], { input: JSON.stringify(objects) });
    return JSON.parse(out.toString());
}
