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

/** Where a stack's workspace lives and what its CLI runs with: plain data, so another process can open it too. */
export interface EngineSettings {
    /** The project directory the workspaces share, where the CLI finds Pulumi.yaml and the stack files. */
    workDir: string;
    /** What the CLI runs with: its backend, passphrase, PATH (the CLI and provider first) and cluster. */
    env: Record<string, string>;
    /** The directory holding the `pulumi` binary. */
    cliDir: string;
}

export interface Engine extends EngineSettings {
    workspace: (stackName: string, program: automation.PulumiFn, env?: Record<string, string>) => Promise<automation.Stack>;
}

// Getting one runs `pulumi version`: once per CLI is enough.
const commands = new Map<string, Promise<automation.PulumiCommand>>();

/** The stack `stackName` of the engine's project, made if it is new, running `program` inline. */
export async function openWorkspace(settings: EngineSettings, stackName: string, program: automation.PulumiFn, env: Record<string, string> = {}): Promise<automation.Stack> {
    if (!commands.has(settings.cliDir)) commands.set(settings.cliDir, automation.PulumiCommand.get({ root: path.dirname(settings.cliDir) }));
    const pulumiCommand = await commands.get(settings.cliDir)!;
    return automation.LocalWorkspace.createOrSelectStack(
        { stackName, projectName: "dockyard", program },
        {
            workDir: settings.workDir,
            pulumiCommand,
            envVars: { ...settings.env, ...env },
            // Written once: every workspace writing it again would leave it empty for a moment, while other
            // stacks' CLIs read it.
            projectSettings: fs.existsSync(path.join(settings.workDir, "Pulumi.yaml")) ? undefined : { name: "dockyard", runtime: "nodejs", backend: { url: settings.env.PULUMI_BACKEND_URL } },
        },
    );
}

/** The operations the engine reported, by resource type, leaving out those that stayed the same. */
export function changes(events: automation.EngineEvent[]): string[] {
    return events
        .flatMap((e) => (e.resOutputsEvent ? [e.resOutputsEvent.metadata] : []))
        // A refreshing up reads every resource first: reading changes nothing.
        .filter((m) => m.op !== "same" && m.op !== "refresh")
        .map((m) => `${m.op} ${m.type}`)
        .sort();
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
    const settings: EngineSettings = { workDir: project, env: envVars, cliDir: cli };
    return { ...settings, workspace: (stackName, program, env) => openWorkspace(settings, stackName, program, env) };
}
