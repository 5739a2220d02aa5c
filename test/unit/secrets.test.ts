// Secrets the Pulumi way stay secrets: from stack config to the cluster, never in plain text on the way.
import * as pulumi from "@pulumi/pulumi";
import { strict as assert } from "assert";
import { StackConfigError, parseStackConfig, readRawConfig, stackFileSecretLeaves } from "../../config";
import { namespaceProviderArgs } from "../../compose";
import { allRegistrations, isSecret, isSecretInput, ofType, registered, resetRegistrations, settle, unwrap, useMocks } from "../support/mocks";
import { runProgram, stackConfig } from "../support/stacks";

const API_KEY = "k3y-that-must-not-leak";
const kube = { target: "kubernetes", namespace: "shop", apps: { server: { replicas: 2, env: { MODE: "fast" } }, hello: { kind: "job" } } };

/** The StackConfigError the call throws. */
function configError(fn: () => unknown): StackConfigError {
    try {
        fn();
    } catch (e) {
        assert.ok(e instanceof StackConfigError, `expected StackConfigError, got ${e}`);
        return e;
    }
    assert.fail("expected a StackConfigError");
}

describe("secrets in stack config", () => {
    before(() => useMocks());
    beforeEach(() => {
        resetRegistrations();
        pulumi.runtime.setAllConfig({}, []);
    });

    it("passes an all-digit registry password on as the string it is", () => {
        pulumi.runtime.setAllConfig({ "dockyard:registryPassword": "000123" }, ["dockyard:registryPassword"]);
        assert.equal(readRawConfig().registryPassword, "000123");
        const plan = parseStackConfig({ ...kube, registry: { server: "registry.example.com", username: "ci" }, ...readRawConfig() }, "000123");
        assert.equal(plan.registryLogin?.password, "000123");
    });

    it("reads a number or boolean env value as the string it was written as", () => {
        const plan = parseStackConfig({ ...kube, apps: { server: { env: { WORKERS: 4, DEBUG: false } } } });
        assert.deepEqual(plan.apps[0].args.env, { WORKERS: "4", DEBUG: "false" });
    });

    it("marks each secret env value secret, and leaves plain ones plain", async () => {
        const plan = parseStackConfig({ ...kube, secretEnv: { server: { API_KEY } } }, undefined, { isSecret: (k) => k === "secretEnv" });
        const env = plan.apps.find((a) => a.name === "server")!.args.env!;
        assert.equal(env.MODE, "fast");
        assert.ok(pulumi.Output.isInstance(env.API_KEY));
        assert.equal(await isSecret(env.API_KEY as pulumi.Output<string>), true);
    });

    it("refuses a secretEnv that is not a secret, naming the command", () => {
        const e = configError(() => parseStackConfig({ ...kube, secretEnv: { server: { API_KEY } } }, undefined, { isSecret: () => false }));
        assert.deepEqual(e.problems, ["dockyard:secretEnv: must be a secret: set each value with pulumi config set --secret --path dockyard:secretEnv.<app>.<NAME>"]);
        assert.ok(!e.message.includes(API_KEY));
    });

    it("refuses a secret inside dockyard:apps (--secret --path), naming the leaf and what to run instead, and prints no value", () => {
        const raw = { ...kube, apps: { server: { env: { API_KEY } } } };
        const stackFile = "config:\n  dockyard:apps:\n    server:\n      env:\n        API_KEY:\n          secure: v1:abc\n";
        const e = configError(() => parseStackConfig(raw, undefined, { isSecret: (k) => k === "apps", secretLeaves: stackFileSecretLeaves(stackFile) }));
        assert.deepEqual(e.problems, [
            "dockyard:apps: holds a secret value (secret: dockyard:apps.server.env.API_KEY), but Pulumi marks the whole key secret and the program cannot tell " +
                "which value is, so it would deploy it as plain text; move it: pulumi config rm --path dockyard:apps.server.env.API_KEY && " +
                "pulumi config set --secret --path dockyard:secretEnv.server.API_KEY <value>",
        ]);
        assert.ok(!e.message.includes(API_KEY));
    });

    it("refuses a secret in dockyard:apps from an ESC environment too, where no stack file names the leaf", () => {
        const e = configError(() => parseStackConfig({ ...kube, apps: { server: { env: { API_KEY } } } }, undefined, { isSecret: (k) => k === "apps" }));
        assert.match(e.problems[0], /^dockyard:apps: holds a secret value, but .* move each secret env value to dockyard:secretEnv: pulumi config rm --path dockyard:apps\.<app>\.env\.<NAME>/);
    });

    it("refuses a secret in a key that takes none", () => {
        const e = configError(() => parseStackConfig({ ...kube, namespace: "shop" }, undefined, { isSecret: (k) => k === "namespace" }));
        assert.match(e.problems[0], /^dockyard:namespace: holds a secret value, .*set it without --secret \(only dockyard:registryPassword and dockyard:secretEnv hold secrets\)$/);
    });

    it("never prints a secret's value in an error", () => {
        const secrets = { isSecret: (k: string) => ["secretEnv", "registryPassword"].includes(k) };
        const e = configError(() => parseStackConfig({ ...kube, registryPassword: 123456, secretEnv: { server: { "1BAD": API_KEY, OK: { nested: API_KEY } } } }, undefined, secrets));
        assert.ok(!e.message.includes(API_KEY) && !e.message.includes("123456"), e.message);
        assert.ok(e.problems.includes("dockyard:registryPassword = [secret]: a string"), e.message);
        assert.ok(e.problems.some((p) => p.startsWith("dockyard:secretEnv.server.OK = [secret]:")), e.message);
    });

    it("names the secretEnv key for a bad variable name, an unknown app and a clash with a plain value", () => {
        const secrets = { isSecret: (k: string) => k === "secretEnv" };
        const e = configError(() => parseStackConfig({ ...kube, secretEnv: { server: { "1BAD": API_KEY, MODE: API_KEY }, worker: { X: API_KEY } } }, undefined, secrets));
        assert.deepEqual(e.problems.sort(), [
            'dockyard:secretEnv.server.1BAD = "1BAD": a variable name of letters, digits and underscores, not starting with a digit',
            "dockyard:secretEnv.server.MODE: also set in dockyard:apps.server.env; a variable is either plain or secret",
            'dockyard:secretEnv.worker: no app "worker" in dockyard:apps; secret values go to an app the stack deploys',
        ]);
        assert.ok(!e.message.includes(API_KEY));
    });

    it("keeps a stack's kubeconfig a secret in the namespace provider's inputs", async () => {
        pulumi.runtime.setAllConfig({ "kubernetes:kubeconfig": "apiVersion: v1\nkind: Config\n" }, ["kubernetes:kubeconfig"]);
        const args = namespaceProviderArgs();
        assert.ok(pulumi.Output.isInstance(args.kubeconfig));
        assert.equal(await isSecret(args.kubeconfig as pulumi.Output<string>), true);
        pulumi.runtime.setAllConfig({}, []);
        assert.equal(namespaceProviderArgs().kubeconfig, "");
    });
});

describe("dockyard:secretEnv on Kubernetes, through the real program", () => {
    before(async () => {
        await runProgram("staging", stackConfig("staging"), {
            "dockyard:registryPassword": "123456",
            "dockyard:secretEnv": JSON.stringify({ server: { API_KEY } }),
        });
        await settle();
    });

    it("puts the value in a Secret, itself a Pulumi secret, and nowhere else", () => {
        const [envSecret] = ofType("kubernetes:core/v1:Secret").filter((r) => r.name === "server-workload-env");
        assert.ok(isSecretInput(envSecret.inputs.stringData), "the Secret's data is a Pulumi secret");
        assert.deepEqual(unwrap(envSecret.inputs.stringData), { API_KEY });
        const others = allRegistrations().filter((r) => r !== envSecret);
        for (const r of others) assert.ok(!JSON.stringify(r.inputs).includes(API_KEY), `${r.type} ${r.name} holds the value`);
    });

    it("gives the pod a secretKeyRef into that Secret, beside the plain values", () => {
        const env = registered("kubernetes:apps/v1:Deployment", "server-workload-deployment").inputs.spec.template.spec.containers[0].env;
        const apiKey = env.find((e: { name: string }) => e.name === "API_KEY");
        // The env Secret's generated name (the mocks' form): a new value makes a new Secret, and the new name rolls the pods.
        assert.deepEqual(Object.keys(apiKey).sort(), ["name", "valueFrom"]);
        assert.equal(apiKey.valueFrom.secretKeyRef.key, "API_KEY");
        assert.match(apiKey.valueFrom.secretKeyRef.name, /^server-workload-env-[0-9a-f]{8}$/);
        assert.deepEqual(env.find((e: { name: string }) => e.name === "PORT"), { name: "PORT", value: "8080" });
    });
});

describe("secrets on Docker", () => {
    before(() => useMocks());

    // The engine encrypts by property: the container's env list is one, so it is a secret as a whole.
    it("gives the container the value in its env list, a secret, and every other input plain", async () => {
        const config = { ...stackConfig("dev") };
        await runProgram("dev", config, { "dockyard:secretEnv": JSON.stringify({ server: { API_KEY } }) });
        await settle();
        const container = registered("docker:index/container:Container", "server-workload-container").inputs;
        assert.ok(isSecretInput(container.envs));
        assert.deepEqual(unwrap(container.envs), ["PORT=8080", "METRICS_PORT=9102", `API_KEY=${API_KEY}`]);
        assert.ok(!JSON.stringify({ ...container, envs: undefined }).includes(API_KEY));
        for (const r of allRegistrations().filter((r) => r.type !== "docker:index/container:Container")) assert.ok(!JSON.stringify(r.inputs).includes(API_KEY), r.name);
    });
});
