// The docker provider reports every BuildKit progress event of an image build as the resource's status.
// A terminal shows each one in place; a log (CI, a pipe, a file) gets a line per event: dozens of
// `digest: sha256:…` lines per image and run. This drops those lines and keeps the rest word for word.
//   pulumi up ... 2>&1 | node -r ts-node/register/transpile-only scripts/buildProgress.ts
import * as readline from "readline";

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

if (require.main === module) {
    const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    lines.on("line", (line) => {
        const kept = withoutBuildProgress(line);
        if (kept !== undefined) process.stdout.write(kept + "\n");
    });
}
