// The real Pulumi engine for the end-to-end suite: the CLI and the Kubernetes provider built from Go
// modules (test/harness/engines, cached outside the clone), driven through the Automation API with inline
// programs, which need no language host. State lives in the bucket of an S3-compatible store the suite
// runs (test/support/stateStore.ts), or in a file backend in a temp dir.
import * as automation from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { repoRoot } from "./docker";

/** Builds (once, then cached) and locates an engine binary's directory. */
export function engineDir(script: string): string {
    return execFileSync("bash", [path.join(repoRoot, "test", "harness", "engines", script)], { stdio: ["ignore", "pipe", "inherit"] }).toString().trim();
}

export interface Engine {
    workspace: (stackName: string, program: automation.PulumiFn, env?: Record<string, string>) => Promise<automation.Stack>;
    /** The project directory the workspaces share, where the CLI finds Pulumi.yaml and the stack files. */
    workDir: string;
    /** What the CLI runs with: its backend, passphrase, PATH (the CLI and provider first) and cluster. */
    env: Record<string, string>;
}

/**
 * An engine whose provider talks to the cluster in `kubeconfig`; its files live under `home`. Its state goes
 * to `backend` (a bucket URL and the credentials to reach it) when given, else to a file backend under `home`.
 */
export async function startEngine(kubeconfig: string, home: string, backend?: { backendUrl: string; env: Record<string, string> }): Promise<Engine> {
    const cli = engineDir("pulumi.sh");
    const provider = engineDir("kubernetes-provider.sh");
    fs.mkdirSync(path.join(home, "state"), { recursive: true });
    // The workspace writes Pulumi.yaml and stack files into its directory: never the repository's.
    fs.mkdirSync(path.join(home, "project"));
    // A project as a consumer's would be, whose program is this repository's: `dockyard` run there loads it.
    const project = path.join(home, "project");
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "e2e", private: true, main: "index.js", dependencies: { "@dockyard/components": "0.1.0" } }));
    fs.writeFileSync(path.join(project, "index.js"), `module.exports = require(${JSON.stringify(path.join(repoRoot, "index.ts"))});\n`);
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(project, "node_modules"));
    const pulumiCommand = await automation.PulumiCommand.get({ root: path.dirname(cli) });
    const envVars = {
        // The provider found on PATH is the one the engine uses (it says so in a warning).
        PATH: `${provider}:${cli}:${process.env.PATH}`,
        PULUMI_HOME: path.join(home, "home"),
        PULUMI_BACKEND_URL: backend?.backendUrl ?? `file://${path.join(home, "state")}`,
        ...backend?.env,
        PULUMI_CONFIG_PASSPHRASE: "e2e",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        KUBECONFIG: kubeconfig,
    };
    return {
        workDir: path.join(home, "project"),
        env: envVars,
        workspace: (stackName, program, env = {}) =>
            automation.LocalWorkspace.createOrSelectStack(
                { stackName, projectName: "dockyard", program },
                {
                    workDir: path.join(home, "project"),
                    pulumiCommand,
                    envVars: { ...envVars, ...env },
                    projectSettings: { name: "dockyard", runtime: "nodejs", backend: { url: envVars.PULUMI_BACKEND_URL } },
                },
            ),
    };
}
