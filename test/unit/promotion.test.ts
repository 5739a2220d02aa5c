// Build once, promote the digest: a stack that takes its images from another stack's outputs.
import { strict as assert } from "assert";
import { allRegistrations, ofType, registered, settle, stackOutputs } from "../support/mocks";
import { runProgram, stackConfig } from "../support/stacks";

const SOURCE = "organization/dockyard/staging";
const SERVER = `registry.example.com/server@sha256:${"a".repeat(64)}`;
const HELLO = `registry.example.com/hello@sha256:${"b".repeat(64)}`;
const PINNED = `registry.example.com/server@sha256:${"9".repeat(64)}`;
const secrets = { "dockyard:registryPassword": "pw" };

/** prod's checked-in config, with its apps map changed by `apps`. */
function prodWith(apps?: (apps: Record<string, Record<string, unknown>>) => void): Record<string, string> {
    const config = stackConfig("prod");
    if (apps) {
        const map = JSON.parse(config["dockyard:apps"]);
        apps(map);
        config["dockyard:apps"] = JSON.stringify(map);
    }
    return config;
}

describe("promotion", () => {
    beforeEach(() => stackOutputs.set(SOURCE, { apps: { server: { imageRef: SERVER }, hello: { imageRef: HELLO } }, sourceCommit: "c0ffee" }));

    it("deploys the source stack's digests, builds and pushes nothing, and carries its commit", async () => {
        const outputs = await runProgram("prod", prodWith(), secrets);
        await settle();
        assert.deepEqual(ofType("docker:index/image:Image"), []);
        assert.equal(registered("pulumi:pulumi:StackReference", "promote-from").inputs.name, SOURCE);
        const deployment = registered("kubernetes:apps/v1:Deployment", "server-workload-deployment").inputs;
        assert.equal(deployment.spec.template.spec.containers[0].image, SERVER);
        assert.equal(registered("kubernetes:batch/v1:Job", "hello-workload-job").inputs.spec.template.spec.containers[0].image, HELLO);
        assert.equal(outputs.sourceCommit, "c0ffee");
        // Provenance on the Deployment, not on its pods: a new commit alone rolls nothing.
        assert.deepEqual(deployment.metadata.annotations, { "dockyard.dev/image": SERVER, "dockyard.dev/source-commit": "c0ffee", "dockyard.dev/stack": "dockyard/prod", "pulumi.com/patchForce": "true" });
        // The pods carry only what a Prometheus reads to scrape them (prod's server serves metrics).
        assert.deepEqual(deployment.spec.template.metadata.annotations, { "prometheus.io/scrape": "true", "prometheus.io/port": "9102", "prometheus.io/path": "/metrics" });
    });

    it("lets a pinned digest win over promotion, for a rollback", async () => {
        await runProgram("prod", prodWith((apps) => (apps.server.image = PINNED)), secrets);
        await settle();
        assert.equal(registered("kubernetes:apps/v1:Deployment", "server-workload-deployment").inputs.spec.template.spec.containers[0].image, PINNED);
        assert.equal(registered("kubernetes:batch/v1:Job", "hello-workload-job").inputs.spec.template.spec.containers[0].image, HELLO);
    });

    it("fails, naming each app and the source stack, when the source has not deployed an app", async () => {
        stackOutputs.set(SOURCE, { apps: { server: { imageRef: SERVER } } });
        await assert.rejects(
            runProgram("prod", prodWith(), secrets),
            new RegExp(
                `invalid stack config \\(1 problem\\):\\n {2}- dockyard:promoteFrom = "${SOURCE}": that stack has not deployed app "hello" \\(no apps\\.hello\\.imageRef output\\); ` +
                    "deploy it there first, or pin dockyard:apps\\.hello\\.image",
            ),
        );
        await settle();
        // Only the read of the source stack happened: nothing was created.
        assert.deepEqual(allRegistrations().map((r) => r.type), ["pulumi:pulumi:StackReference"]);
    });

    it("fails the same way when the source stack has no outputs at all", async () => {
        stackOutputs.delete(SOURCE);
        await assert.rejects(runProgram("prod", prodWith(), secrets), /\(2 problems\):\n.*that stack has not deployed app "hello".*\n.*that stack has not deployed app "server"/);
    });

    it("records the commit CI built from, when building", async () => {
        process.env.DOCKYARD_SOURCE_COMMIT = "feedbeef";
        try {
            const outputs = await runProgram("staging", stackConfig("staging"), secrets);
            await settle();
            assert.equal(outputs.sourceCommit, "feedbeef");
            const job = registered("kubernetes:batch/v1:Job", "hello-workload-job").inputs;
            assert.equal(job.metadata.annotations["dockyard.dev/source-commit"], "feedbeef");
            assert.match(job.metadata.annotations["dockyard.dev/image"], /^registry\.example\.com\/hello@sha256:[0-9a-f]{64}$/);
        } finally {
            delete process.env.DOCKYARD_SOURCE_COMMIT;
        }
    });
});
