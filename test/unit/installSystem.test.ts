// .ci/install-system.sh's choice of Debian packages on made-up machines: an engine already there
// (Docker CE on GitHub's runners) is used as it is, Debian's is installed only where none is.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "..", "..");
const ENGINE_PACKAGES = ["docker.io", "containerd", "runc"];

/** The packages install-system.sh would install on a machine with these commands and these packages. */
function plan(commands: string[], installed: string[]): string[] {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-install-plan-"));
    try {
        for (const tool of ["id", "grep"]) fs.symlinkSync(spawnSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim(), path.join(bin, tool));
        for (const c of commands) fs.writeFileSync(path.join(bin, c), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
        // dpkg-query -W -f '${Status}' <pkg>: installed only when listed.
        const dpkg = `#!/bin/bash\ncase " ${installed.join(" ")} " in *" \${!#} "*) printf 'install ok installed' ;; *) exit 1 ;; esac\n`;
        fs.writeFileSync(path.join(bin, "dpkg-query"), dpkg, { mode: 0o755 });
        const r = spawnSync("/bin/bash", [path.join(repoRoot, ".ci", "install-system.sh")], {
            encoding: "utf8",
            env: { PATH: bin, DOCKYARD_INSTALL_PLAN: "1" },
        });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.trim().split(/\s+/).filter(Boolean);
    } finally {
        fs.rmSync(bin, { recursive: true, force: true });
    }
}

describe("install-system.sh", () => {
    it("installs Debian's engine, containerd and runc on a machine that has none", () => {
        const packages = plan([], []);
        for (const p of [...ENGINE_PACKAGES, "docker-registry", "etcd-server", "containernetworking-plugins"]) assert.ok(packages.includes(p), `${p} in ${packages}`);
    });

    it("keeps Docker CE where it is (GitHub's ubuntu-24.04 runners): none of the conflicting packages", () => {
        const packages = plan(["dockerd", "docker", "containerd", "runc"], ["docker-ce", "docker-ce-cli", "containerd.io"]);
        assert.deepEqual(packages.filter((p) => ENGINE_PACKAGES.includes(p)), []);
        assert.ok(packages.includes("docker-registry"), `the rest is still installed: ${packages}`);
    });

    it("installs only what is missing: a machine with an engine but no runc gets runc alone of the three", () => {
        assert.deepEqual(plan(["dockerd", "containerd"], []).filter((p) => ENGINE_PACKAGES.includes(p)), ["runc"]);
    });

    it("installs nothing on a machine that already has every package", () => {
        const all = plan([], []);
        assert.deepEqual(plan([], all), []);
    });
});
