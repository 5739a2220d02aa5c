// Runs the real program (index.ts) against a checked-in stack file, under mocks.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { repoRoot } from "./docker";
import type { ClusterObject } from "../../components/internal/cluster";
import { clusterDouble, known, resetRegistrations, stackOutputs, useMocks } from "./mocks";

import type main from "../../index";

type Program = Awaited<ReturnType<typeof main>>;

/** The config the CLI hands the program: Pulumi.yaml's defaults, then the stack file's values. */
export function stackConfig(stack: string): Record<string, string> {
    const project = YAML.parse(fs.readFileSync(path.join(repoRoot, "Pulumi.yaml"), "utf8"));
    const config: Record<string, string> = {};
    for (const [key, decl] of Object.entries<any>(project.config ?? {})) {
        if (decl.default !== undefined) config[`${project.name}:${key}`] = String(decl.default);
    }
    const file = YAML.parse(fs.readFileSync(path.join(repoRoot, `Pulumi.${stack}.yaml`), "utf8"));
    for (const [key, value] of Object.entries(file.config ?? {})) {
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return config;
}

/**
 * Mocks first, then config, then a fresh import of the program, as `pulumi up` would run it.
 * `secrets` are added as secret config, the way CI sets the registry password; `cluster` holds the
 * objects the ownership check finds (none by default).
 */
export async function runProgram(
    stack: string,
    config: Record<string, string>,
    secrets: Record<string, string> = {},
    cluster: ClusterObject[] = [],
    organization?: string,
): Promise<Program> {
    resetRegistrations();
    clusterDouble.objects = cluster;
    await useMocks({ stack, organization });
    pulumi.runtime.setAllConfig({ ...config, ...secrets }, Object.keys(secrets));
    const entry = require.resolve("../../index");
    delete require.cache[entry];
    // Each stack gets a fresh module, as each `pulumi up` would; its export is the program to run.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const outputs = await (require(entry) as typeof main)();
    // Like a deployment, it leaves its outputs where another stack's StackReference reads them.
    const apps: Record<string, { imageRef: string }> = {};
    for (const [name, app] of Object.entries(outputs.apps)) apps[name] = { imageRef: await known(app.imageRef) };
    stackOutputs.set(`organization/dockyard/${stack}`, { apps, sourceCommit: outputs.sourceCommit });
    return outputs;
}
