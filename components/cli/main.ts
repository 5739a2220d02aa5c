#!/usr/bin/env node
// dockyard <verb> --stack <name>: the operations tools of @dockyard/components, for any Pulumi project that
// uses them. One file per verb; this one only dispatches, and turns errors into exit codes:
// 0 done, 1 the verb's own "no" (drift found, a lock left alone, an update failed), 2 bad input or a failed check.
import { buildLog } from "./buildProgress";
import { destroy, preview, up } from "./up";
import { driftVerb as drift } from "./drift";
import { previewCommentVerb as previewComment } from "./previewComment";
import { UsageError } from "./project";
import { prune } from "./prune";
import { recover } from "./recover";
import type { Verb } from "./verb";
import { watch } from "./watch";

const VERBS: Record<string, Verb> = {
    up,
    preview,
    destroy,
    watch,
    recover,
    drift,
    prune,
    "preview-comment": previewComment,
    "build-log": buildLog,
};

export function usage(): string {
    const width = Math.max(...Object.keys(VERBS).map((v) => v.length));
    return [
        "usage: dockyard <verb> [--stack <name>] [options]",
        "",
        "Verbs:",
        ...Object.entries(VERBS).map(([name, verb]) => `  ${name.padEnd(width)}  ${verb.summary}`),
        "",
        "`dockyard <verb> --help` says what a verb does, its options and exit codes.",
        "Exit codes: 0 done; 1 the verb's own no (drift found, a lock left alone, an update failed); 2 bad input or a failed check.",
    ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
    const [name, ...rest] = argv;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
        process.stdout.write(`${usage()}\n`);
        return name === undefined ? 2 : 0;
    }
    const verb = VERBS[name];
    if (!verb) {
        process.stderr.write(`dockyard: no verb "${name}" (verbs: ${Object.keys(VERBS).join(", ")})\n`);
        return 2;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
        process.stdout.write(`${verb.help}\n`);
        return 0;
    }
    try {
        return await verb.run(rest);
    } catch (e) {
        const usageError = e instanceof UsageError;
        process.stderr.write(`dockyard ${name}: ${(e as Error).message}\n${usageError ? `${verb.help.split("\n")[0]}\n` : ""}`);
        return 2;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        // Exits at once: an engine's event stream or a client's sockets would keep the process waiting.
        (code) => process.exit(code),
        (e: Error) => {
            process.stderr.write(`dockyard: ${e.message}\n`);
            process.exit(2);
        },
    );
}
