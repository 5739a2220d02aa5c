// Renders `pulumi preview` output as a pull-request comment that stays under
// GitHub's 65,536-character limit: the change summary and any policy
// violations first, the full output folded below and cut to fit, with a
// pointer to the untruncated copy.
import * as fs from "fs";
import { UsageError, parseArgs, required } from "./project";
import type { Verb } from "./verb";

/** GitHub rejects comment bodies over 65,536 characters; keep room for the wrapper. */
export const COMMENT_LIMIT = 65_536;

export interface PreviewComment {
    stack: string;
    /** The preview's full text output. */
    output: string;
    /** Where the full output lives (the workflow run, with its job summary and artifact). */
    runUrl: string;
    /** Whether `pulumi preview` succeeded. */
    succeeded: boolean;
    /** Upper bound on the body's length. Default: COMMENT_LIMIT. */
    limit?: number;
}

/** The hidden marker a workflow uses to find and update this stack's comment instead of adding one. */
export function commentMarker(stack: string): string {
    return `<!-- dockyard-preview:${stack} -->`;
}

/** The `Resources:` block's lines ("+ 2 to create", "3 unchanged", …). */
export function changeSummary(output: string): string[] {
    const lines = output.split(/\r?\n/);
    const start = lines.findIndex((l) => /^Resources:\s*$/.test(l.trim()));
    if (start < 0) return [];
    const summary: string[] = [];
    for (const line of lines.slice(start + 1)) {
        if (line.trim() === "") break;
        summary.push(line.trim());
    }
    return summary;
}

/**
 * One line per policy violation, which a reviewer must see even when the output is long: the engine's
 * "[mandatory]  policy  (type: name)" header joined with its last indented line, the resource's own message.
 */
export function policyViolations(output: string): string[] {
    const lines = output.split(/\r?\n/);
    const found: string[] = [];
    lines.forEach((line, i) => {
        if (!/\[(mandatory|advisory)\]/.test(line)) return;
        const indent = line.search(/\S/);
        let message = "";
        for (const next of lines.slice(i + 1)) {
            if (next.trim() === "" || next.search(/\S/) <= indent) break;
            message = next.trim();
        }
        const header = line.trim().replace(/^-\s+/, "");
        found.push(message ? `${header}: ${message}` : header);
    });
    return found;
}

/**
 * The digests a promoting stack would deploy: the "Promotes from <stack>" block the workflow writes above
 * the preview, one "app: digest" line each.
 */
export function promotedDigests(output: string): { source: string; apps: string[] } | undefined {
    const lines = output.split(/\r?\n/);
    const start = lines.findIndex((l) => /^Promotes from \S+/.test(l));
    if (start < 0) return undefined;
    const source = /^Promotes from (\S+)/.exec(lines[start])![1];
    const apps: string[] = [];
    for (const line of lines.slice(start + 1)) {
        if (!/^\s+\S+: \S+$/.test(line)) break;
        apps.push(line.trim());
    }
    return { source, apps };
}

/** Keeps a fenced block fenced: a run of backticks inside would close it early. */
function defang(text: string): string {
    return text.replace(/```/g, "`\u200b``");
}

export function renderPreviewComment(c: PreviewComment): string {
    const limit = c.limit ?? COMMENT_LIMIT;
    const summary = changeSummary(c.output);
    const violations = policyViolations(c.output);
    const promoted = promotedDigests(c.output);
    const head = [
        commentMarker(c.stack),
        `### ${c.succeeded ? "✅" : "❌"} \`pulumi preview\` — stack \`${c.stack}\``,
        "",
        summary.length ? summary.map((l) => `- ${l}`).join("\n") : "_No change summary: the preview stopped before the end. See the violations and output below._",
        ...(violations.length ? ["", `**Policy violations (${violations.length}):**`, ...violations.slice(0, 20).map((v) => `- ${defang(v)}`)] : []),
        ...(violations.length > 20 ? [`- … and ${violations.length - 20} more`] : []),
        ...(promoted ? ["", `**Promotes from \`${promoted.source}\`** (pinned apps excepted):`, ...promoted.apps.map((a) => `- \`${defang(a)}\``)] : []),
        "",
    ].join("\n");
    const open = "\n<details><summary>Full preview output</summary>\n\n```\n";
    const full = `[Full output](${c.runUrl}) in the run's job summary and its \`preview-${c.stack}\` artifact.`;
    const close = "\n```\n</details>\n\n";

    const body = defang(c.output);
    const room = limit - head.length - open.length - close.length - full.length - 200;
    const shown = body.length <= room ? body : `${body.slice(0, Math.max(0, room))}\n… ${body.length - room} more characters not shown here`;
    return `${head}${open}${shown}${close}${full}\n`;
}

const USAGE = "usage: dockyard preview-comment --stack <name> --output <preview output file> --run-url <url> --succeeded true|false";

export const previewCommentVerb: Verb = {
    summary: "render a `pulumi preview`'s output as a pull-request comment that fits GitHub's limit",
    help: [
        USAGE,
        "",
        "Prints, on stdout, the comment for one stack: a marker a workflow finds it by, the change summary and",
        "every policy violation first, then the output folded and cut to fit 65,536 characters, with a pointer",
        "to the run that holds it all. Reads nothing but the file; needs no stack on this machine.",
        "Exit codes: 0 printed; 2 bad input (a missing flag, an unreadable file, --succeeded not true or false).",
    ].join("\n"),
    async run(argv) {
        const { values } = parseArgs(argv, ["--stack", "--output", "--run-url", "--succeeded"]);
        const [stack, file, runUrl, succeeded] = ["--stack", "--output", "--run-url", "--succeeded"].map((flag) => required(values, flag));
        if (succeeded !== "true" && succeeded !== "false") throw new UsageError(`--succeeded ${succeeded}: want true or false`);
        let output: string;
        try {
            output = fs.readFileSync(file, "utf8");
        } catch (e) {
            throw new UsageError(`--output ${file}: ${(e as Error).message}`);
        }
        process.stdout.write(renderPreviewComment({ stack, output, runUrl, succeeded: succeeded === "true" }));
        return 0;
    },
};
