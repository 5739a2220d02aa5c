// `npm run bench:registry-login`: how long the plain CLI's `pulumi preview` (the language host and all, as a
// person or a pull request runs it) takes to fail when the registry password is wrong. The program checks
// the login against a real registry (Debian's docker-registry, htpasswd) before it registers anything.
// Target: at most 3 s, every run. Prints markdown; `--write` replaces the section of bench/README.md.
//
// Needs the Pulumi CLI and its Node.js language host on PATH: the language host is on no Go module the proxy
// serves, so where it is missing this says so and measures nothing.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { repoRoot, startRegistry } from "../test/support/docker";
import { withSection } from "./readme";

const RUNS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const TARGET_SECONDS = 3;
/** Where this section of bench/README.md starts; bench/run.ts keeps it when it rewrites the rest. */
export const MARKER = "<!-- registry-login -->";

function onPath(bin: string): boolean {
    return (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, bin)));
}

async function main(write: boolean): Promise<void> {
    const missing = ["pulumi", "pulumi-language-nodejs"].filter((bin) => !onPath(bin));
    if (missing.length > 0) {
        console.log(`registry-login: not measured, missing on PATH: ${missing.join(", ")}`);
        return;
    }
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-bench-login-"));
    const registry = await startRegistry({ username: "ci", password: "right" });
    const env = {
        ...process.env,
        PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
        PULUMI_HOME: path.join(work, "home"),
        PULUMI_CONFIG_PASSPHRASE: "bench",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    const stack = "bench-login";
    const configFile = path.join(work, `Pulumi.${stack}.yaml`);
    const pulumi = (args: string[]) => spawnSync("pulumi", [...args, "--stack", stack, "--config-file", configFile, "--cwd", repoRoot, "--non-interactive"], { env, encoding: "utf8" });
    try {
        fs.mkdirSync(path.join(work, "state"));
        execFileSync("pulumi", ["stack", "init", stack, "--cwd", repoRoot, "--non-interactive"], { env, stdio: "ignore" });
        const image = `${registry.host}/hello@sha256:${"0".repeat(64)}`;
        for (const [key, value] of Object.entries({
            "dockyard:target": "kubernetes",
            "dockyard:namespace": "bench",
            "dockyard:registry": JSON.stringify({ server: registry.host, username: "ci" }),
            "dockyard:apps": JSON.stringify({ hello: { kind: "job", image } }),
        })) {
            if (pulumi(["config", "set", "--path=false", key, value]).status !== 0) throw new Error(`config set ${key} failed`);
        }
        if (pulumi(["config", "set", "--secret", "dockyard:registryPassword", "wrong"]).status !== 0) throw new Error("config set --secret failed");
        // The floor, in the same run: a TypeScript program of one line that fails at once, through the same CLI
        // and language host. What the CLI, the host and Node cost before any program of ours runs.
        const floorDir = path.join(work, "floor");
        fs.mkdirSync(floorDir);
        fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(floorDir, "node_modules"));
        fs.writeFileSync(path.join(floorDir, "Pulumi.yaml"), "name: floor\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
        fs.writeFileSync(path.join(floorDir, "package.json"), JSON.stringify({ name: "floor", main: "index.ts" }));
        fs.writeFileSync(path.join(floorDir, "index.ts"), 'export = async () => { throw new Error("refused"); };\n');
        execFileSync("pulumi", ["stack", "init", "floor", "--cwd", floorDir, "--non-interactive"], { env, stdio: "ignore" });
        const floor = (): boolean => spawnSync("pulumi", ["preview", "--stack", "floor", "--cwd", floorDir, "--non-interactive"], { env, encoding: "utf8" }).status !== 0;
        const login = (): boolean => {
            const r = pulumi(["preview"]);
            if (r.status === 0 || !/refused the login of user "ci": 401 Unauthorized/.test(`${r.stdout}${r.stderr}`)) throw new Error(`the preview did not fail on the login:\n${r.stdout}${r.stderr}`);
            return true;
        };
        const seconds: number[] = [];
        const floorSeconds: number[] = [];
        // Alternating, so both see the same machine.
        for (let i = 0; i < RUNS; i++) {
            for (const [run, into] of [[login, seconds], [floor, floorSeconds]] as const) {
                const started = process.hrtime.bigint();
                if (!run()) throw new Error("the floor program did not fail");
                into.push(Number(process.hrtime.bigint() - started) / 1e9);
            }
        }
        const worst = Math.max(...seconds);
        const table = [
            MARKER,
            "## Registry login (a wrong password, `pulumi preview` through the plain CLI)",
            "",
            `${RUNS} runs of \`pulumi preview\` (CLI ${execFileSync("pulumi", ["version"], { encoding: "utf8" }).trim()}, its Node.js language host, Node ${process.version}) of a`,
            "Kubernetes stack whose registry (Debian's docker-registry on loopback, htpasswd) refuses the password, each until",
            "the CLI exits with the program's `dockyard:registryPassword: registry … refused the login` error.",
            "",
            "| preview | runs (s) | worst | target | met |",
            "|---|---|---|---|---|",
            `| this program, a wrong registry password | ${seconds.map((s) => s.toFixed(2)).join(", ")} | ${worst.toFixed(2)} s | ≤ ${TARGET_SECONDS} s every run | ${worst <= TARGET_SECONDS ? "yes" : "no"} |`,
            `| the floor: a one-line TypeScript program that fails at once | ${floorSeconds.map((s) => s.toFixed(2)).join(", ")} | ${Math.max(...floorSeconds).toFixed(2)} s | — | — |`,
            "",
            `Median ratio to the floor: ${(median(seconds) / median(floorSeconds)).toFixed(2)}×.`,
            "",
        ].join("\n");
        console.log(table);
        if (write) {
            const readme = path.join(repoRoot, "bench", "README.md");
            fs.writeFileSync(readme, withSection(fs.readFileSync(readme, "utf8"), MARKER, table));
        }
    } finally {
        registry.stop();
        spawnSync("pulumi", ["stack", "rm", stack, "--yes", "--force", "--cwd", repoRoot, "--non-interactive"], { env, stdio: "ignore" });
        fs.rmSync(work, { recursive: true, force: true });
    }
}

main(process.argv.includes("--write")).catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
});
