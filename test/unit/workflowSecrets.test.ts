// Which job of the GitHub workflows sees which secret, and from which environment: a deploy credential reaches
// only the deploy jobs, nothing of prod reaches a pull request, and production keeps its reviewers' gate.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { repoRoot } from "../support/docker";

interface Job {
    environment?: string | { name: string };
    strategy?: { matrix?: Record<string, unknown[]> };
    steps?: unknown[];
    env?: Record<string, string>;
}
interface Workflow {
    on: Record<string, unknown>;
    jobs: Record<string, Job>;
}

const dir = path.join(repoRoot, ".github", "workflows");
const workflows: Record<string, Workflow> = Object.fromEntries(
    fs.readdirSync(dir).filter((f) => f.endsWith(".yml")).map((f) => [f, parse(fs.readFileSync(path.join(dir, f), "utf8")) as Workflow]),
);

/** The secrets a job's text names: `secrets.NAME` and `secrets[...]` lookups (the latter never allowed). */
function secretsOf(job: Job): string[] {
    const text = JSON.stringify(job);
    const dynamic = /secrets\[/.test(text) ? ["secrets[…]"] : [];
    return [...new Set([...text.matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1])), ...dynamic].sort();
}

/** The environments a job can run in: its `environment`, with each matrix value put in. */
function environmentsOf(job: Job): string[] {
    const env = typeof job.environment === "object" ? job.environment.name : job.environment;
    if (env === undefined) return [];
    const expanded = (job.strategy?.matrix?.stack ?? [undefined]).map((stack) => env.replace(/\$\{\{ matrix\.stack \}\}/g, String(stack)));
    // recover.yml picks by input (`inputs.stack == 'prod' && 'production' || 'staging'`): both results.
    return expanded.flatMap((e) => (e.includes("${{") ? [...e.matchAll(/(?:&&|\|\|)\s*'([a-z-]+)'/g)].map((m) => m[1]) : [e])).sort();
}

/** Secrets that are credentials to a cluster, the state or the registry: only an environment may hold them. */
const CREDENTIALS = ["KUBECONFIG", "STATE_ACCESS_KEY_ID", "STATE_SECRET_ACCESS_KEY", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "REGISTRY_PASSWORD"];

describe("workflows: secrets by job and environment", () => {
    const jobs = Object.entries(workflows).flatMap(([file, w]) => Object.entries(w.jobs).map(([id, job]) => ({ at: `${file}#${id}`, on: Object.keys(w.on), job })));

    it("reads every workflow, each job it has", () => {
        assert.deepEqual(Object.keys(workflows).sort(), ["deploy.yml", "drift.yml", "pull-request.yml", "recover.yml"]);
        assert.deepEqual(jobs.map((j) => j.at).sort(), [
            "deploy.yml#preview-prod",
            "deploy.yml#prod",
            "deploy.yml#staging",
            "deploy.yml#test",
            "drift.yml#drift",
            "pull-request.yml#preview",
            "pull-request.yml#test",
            "recover.yml#recover",
        ].sort());
    });

    it("gives a credential only to a job in an environment, and never by a computed name", () => {
        for (const { at, job } of jobs) {
            const credentials = secretsOf(job).filter((s) => CREDENTIALS.includes(s) || s === "secrets[…]");
            if (credentials.length > 0) assert.ok(environmentsOf(job).length > 0, `${at} reads ${credentials.join(", ")} outside any environment`);
            assert.ok(!secretsOf(job).includes("secrets[…]"), `${at} looks a secret up by a computed name`);
        }
    });

    it("runs a pull request's code only in a preview environment, and none of prod", () => {
        const pr = jobs.filter((j) => j.on.includes("pull_request") || j.on.includes("pull_request_target"));
        assert.deepEqual(pr.map((j) => j.at).sort(), ["pull-request.yml#preview", "pull-request.yml#test"]);
        assert.deepEqual(environmentsOf(workflows["pull-request.yml"].jobs.preview), ["staging-preview"]);
        assert.deepEqual(secretsOf(workflows["pull-request.yml"].jobs.test), [], "the tests see no secret");
        for (const { at, job } of pr) {
            for (const env of environmentsOf(job)) assert.ok(env.endsWith("-preview") && !env.startsWith("prod"), `${at} runs in ${env}`);
        }
    });

    it("deploys in the deployers' environments, production behind staging and prod's preview; previews and drift in the read-only ones", () => {
        const deploy = workflows["deploy.yml"].jobs;
        assert.deepEqual(environmentsOf(deploy.staging), ["staging"]);
        assert.deepEqual(environmentsOf(deploy.prod), ["production"]);
        assert.deepEqual((deploy.prod as { needs?: string[] }).needs, ["staging", "preview-prod"]);
        assert.deepEqual(environmentsOf(deploy["preview-prod"]), ["prod-preview"]);
        assert.deepEqual(environmentsOf(workflows["drift.yml"].jobs.drift), ["prod-preview", "staging-preview"]);
        assert.deepEqual(environmentsOf(workflows["recover.yml"].jobs.recover), ["production", "staging"]);
        assert.deepEqual(secretsOf(deploy.test), [], "the tests see no secret");
    });
});
