// The docker provider reports every BuildKit progress event of an image build as the resource's status.
// A terminal shows each one in place; a log (CI, a pipe, a file) gets a line per event: dozens of
// `digest: sha256:…` lines per image and run. This drops those lines and keeps the rest word for word.
//   pulumi preview ... 2>&1 | dockyard build-log
import * as readline from "readline";
import { parseArgs } from "./project";
import type { Verb } from "./verb";

/** What the provider says while it builds; its errors (`error: …`) never start like this. */
const PROGRESS =
    /(digest: sha256:[0-9a-f]+|Starting Docker build|writing image sha256:|naming to \S+|exporting (layers|to image)|Built image with (local id|ID)|Successfully tagged \S+|Image built successfully, local id "sha256:[0-9a-f]+"|polling image store for image)/;
/** A status row of a docker.Image, as the non-interactive display prints it. */
const IMAGE_ROW = /^ \S{0,2}\s+docker:index:Image \S+ /;
/** The final row of a step: kept, without the last progress message it carries. */
const FINISHED = / (created|updated|replaced|same) \(/;

/** The line to print instead of `line`, or `undefined` to drop it. */
export function withoutBuildProgress(line: string): string | undefined {
    if (!IMAGE_ROW.test(line)) return line;
    const cut = line.search(new RegExp(`(; |\\) )${PROGRESS.source}`));
    if (cut === -1) return line;
    return FINISHED.test(line) ? line.slice(0, cut + (line[cut] === ")" ? 1 : 0)) : undefined;
}

export const buildLog: Verb = {
    summary: "copy stdin to stdout without the docker provider's build progress lines (for CI logs)",
    help: [
        "usage: pulumi <verb> ... 2>&1 | dockyard build-log",
        "",
        "A terminal shows the docker provider's build progress in place; a log gets a line per BuildKit event,",
        "dozens per image. This drops those lines (and a finished row's last progress message) and keeps every",
        "other line word for word.",
        "Exit codes: 0 at the end of its input; 2 any argument.",
    ].join("\n"),
    run(argv) {
        parseArgs(argv, []);
        const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
        lines.on("line", (line) => {
            const kept = withoutBuildProgress(line);
            if (kept !== undefined) process.stdout.write(`${kept}\n`);
        });
        return new Promise((resolve) => lines.on("close", () => resolve(0)));
    },
};
