// components/cli/compileErrors.ts: what `dockyard up`/`preview`/`watch` print after a failed build, from the real Go toolchain.
import { strict as assert } from "assert";
import { compileErrors as errorsOf, goAppDirs } from "../../components/cli/compileErrors";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "..", "..");

function compileErrors(appsDir: string, ...apps: string[]) {
    const out = errorsOf(goAppDirs(appsDir, apps.length > 0 ? apps : undefined));
    return { code: out ? 1 : 0, out };
}

describe("compileErrors", function () {
    this.timeout(180_000);
    let apps: string;
    beforeEach(() => {
        apps = fs.mkdtempSync(path.join(os.tmpdir(), "dockyard-compile-errors-"));
        for (const app of ["hello", "server"]) fs.cpSync(path.join(repoRoot, "apps", app), path.join(apps, app), { recursive: true });
    });
    afterEach(() => fs.rmSync(apps, { recursive: true, force: true }));

    it("says nothing and exits 0 when every app compiles", () => {
        assert.deepEqual(compileErrors(apps), { code: 0, out: "" });
    });

    it("prints the compiler's file:line:column and message for the app that does not compile, and only that one", () => {
        const file = path.join(apps, "server", "server.go");
        const lines = fs.readFileSync(file, "utf8").split("\n");
        const at = lines.findIndex((l) => l.includes("body := make([]byte, 0,"));
        assert.ok(at >= 0, "the line the edit loop changes is still in server.go");
        lines[at] = lines[at].replace(/make\(\[\]byte, 0, \d+\)/, 'make([]byte, 0, "x")');
        fs.writeFileSync(file, lines.join("\n"));

        const r = compileErrors(apps);
        assert.equal(r.code, 1);
        assert.match(r.out, new RegExp(`${path.join(apps, "server")} does not compile:`));
        assert.match(r.out, new RegExp(`\\./server\\.go:${at + 1}:\\d+: cannot (use|convert) "x"`));
        assert.doesNotMatch(r.out, /hello does not compile/);
    });

    it("checks only the apps named after the folder (watch:dev names the apps a save changed)", () => {
        fs.appendFileSync(path.join(apps, "hello", "main.go"), "\nfunc broken() { return 1 }\n");
        assert.deepEqual(compileErrors(apps, "server"), { code: 0, out: "" });
        const r = compileErrors(apps, "hello", "server");
        assert.equal(r.code, 1);
        assert.match(r.out, new RegExp(`${path.join(apps, "hello")} does not compile:\n# \\S+\n\\./main\\.go:\\d+:\\d+: too many return values`));
        assert.doesNotMatch(r.out, /server does not compile/);
    });
});
