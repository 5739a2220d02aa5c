// components/cli/drift.ts: the short list a refreshed preview's events make.
import type * as automation from "@pulumi/pulumi/automation";
import { strict as assert } from "assert";
import { driftFrom, formatDrift } from "../../components/cli/drift";

const urn = (type: string, name: string) => `urn:pulumi:staging::dockyard::dockyard:index:GoApp$${type}::${name}`;
function step(op: string, type: string, name: string, extra: Partial<automation.StepEventMetadata> = {}): automation.EngineEvent {
    const metadata = { name: "server", namespace: "dockyard-staging" };
    return {
        sequence: 0,
        timestamp: 0,
        resourcePreEvent: {
            metadata: { op, urn: urn(type, name), type, provider: "", old: { type, urn: urn(type, name), custom: true, delete: false, id: "", parent: "", protect: false, inputs: {}, outputs: { metadata }, provider: "" }, ...extra } as automation.StepEventMetadata,
        },
    } as automation.EngineEvent;
}

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";

describe("drift", () => {
    it("lists each object the next up would change, with the paths that differ, and nothing that stays the same", () => {
        const events = [
            step("refresh", DEPLOYMENT, "server-workload-deployment"),
            step("update", DEPLOYMENT, "server-workload-deployment", {
                detailedDiff: { "spec.replicas": { kind: "update", inputDiff: false }, "spec.template.spec.containers[0].env[1].value": { kind: "update", inputDiff: false } } as never,
                diffs: ["spec"],
            }),
            step("same", "kubernetes:core/v1:Service", "server-workload-service"),
            // An update that names no property: nothing to put back.
            step("update", "kubernetes:core/v1:Service", "server-workload-service", { diffs: [], detailedDiff: {} as never }),
            step("create", "pulumi:pulumi:StackReference", "promote-from"),
            step("create", "kubernetes:core/v1:ServiceAccount", "server-workload-service-account", { old: undefined, new: { inputs: { metadata: { name: "server", namespace: "dockyard-staging" } } } as never }),
        ];
        assert.deepEqual(driftFrom(events), [
            { object: "Deployment dockyard-staging/server", op: "update", fields: ["spec.replicas", "spec.template.spec.containers[0].env[1].value"] },
            { object: "ServiceAccount dockyard-staging/server", op: "create", fields: [] },
        ]);
    });

    it("takes the top-level diff when the provider gives no detailed one, and folds a replacement's two steps into one", () => {
        const events = [
            step("create-replacement", "kubernetes:batch/v1:Job", "hello-workload-job", { diffs: ["spec"] }),
            step("replace", "kubernetes:batch/v1:Job", "hello-workload-job", { diffs: ["spec"] }),
            step("delete-replaced", "kubernetes:batch/v1:Job", "hello-workload-job", { diffs: ["spec"] }),
        ];
        assert.deepEqual(driftFrom(events), [{ object: "Job dockyard-staging/server", op: "replace", fields: ["spec"] }]);
    });

    it("prints one line per object, or that there is none", () => {
        assert.equal(formatDrift("staging", []), "stack staging: no drift; the cluster matches what the program deploys");
        const text = formatDrift("staging", [
            { object: "Deployment ns/server", op: "update", fields: ["spec.replicas", "spec.template.spec.containers[0].env"] },
            { object: "Service ns/server", op: "create", fields: [] },
        ]);
        assert.equal(
            text,
            [
                "stack staging: 2 object(s) drifted; the next up puts them back:",
                "  Deployment ns/server: spec.replicas, spec.template.spec.containers[0].env",
                "  Service ns/server: missing (deleted outside Pulumi)",
            ].join("\n"),
        );
    });
});
