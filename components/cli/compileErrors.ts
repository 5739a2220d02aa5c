// The Go compiler's own words for an app that does not compile. The docker provider reports a failed build
// step as one line ("executor failed running [go build ...]: exit code: 1", pulumi-docker#1268) and keeps the
// compiler's messages for --debug, so `dockyard up`/`preview` and `watch` build each app once more after a
// failed update, with the host's Go, and print what it says.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** The Go modules among `dirs` (their own go.mod), or every folder under `appsDir` that is one. */
export function goAppDirs(appsDir: string, names?: string[]): string[] {
    if (!fs.existsSync(appsDir)) return [];
    const dirs = names?.map((n) => path.join(appsDir, n)) ?? fs.readdirSync(appsDir).map((n) => path.join(appsDir, n));
    return dirs.filter((d) => fs.existsSync(path.join(d, "go.mod"))).sort();
}

/**
 * "<dir> does not compile:" and the compiler's file:line:column messages, for each of `dirs` that does not
 * build; "" when all do, or when Go is not on PATH (nothing to say then beyond the engine's own error).
 */
export function compileErrors(dirs: string[]): string {
    const failures: string[] = [];
    for (const dir of dirs) {
        const r = spawnSync("go", ["build", "-o", process.platform === "win32" ? "NUL" : "/dev/null", "./..."], { cwd: dir, encoding: "utf8", env: { ...process.env, CGO_ENABLED: "0" } });
        if (r.error) return "";
        if (r.status !== 0) failures.push(`${dir} does not compile:\n${`${r.stdout}${r.stderr}`.trim()}`);
    }
    return failures.join("\n\n");
}
