// The README is an index: every link in it and in the pages it leads to resolves, to a file of the
// repository and, where a link names a heading, to that heading.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "..", "..");
const pages = ["README.md", "components/README.md", "bench/README.md", ...fs.readdirSync(path.join(repoRoot, "docs")).map((f) => `docs/${f}`)].filter((p) => p.endsWith(".md"));

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
    return heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/\s/g, "-");
}

/** The anchors of a Markdown file's headings (a repeated heading gets -1, -2, … as on GitHub). */
function anchors(file: string): Set<string> {
    const seen = new Map<string, number>();
    const found = new Set<string>();
    let fenced = false;
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        if (/^```/.test(line)) fenced = !fenced;
        const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
        if (!m) continue;
        const base = anchorOf(m[1]);
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        found.add(n === 0 ? base : `${base}-${n}`);
    }
    return found;
}

/** The relative links of a Markdown file, outside code: `[text](target)`. */
function links(file: string): string[] {
    const text = fs.readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
    return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^(https?:|mailto:)/.test(t));
}

describe("documentation links", () => {
    it("finds the pages and their links", () => {
        assert.ok(pages.includes("docs/operations.md") && pages.length >= 8, pages.join(", "));
        assert.ok(links(path.join(repoRoot, "README.md")).length >= 8, "the README links its pages");
    });

    it("makes anchors as GitHub does", () => {
        assert.equal(anchorOf("When a deploy dies, collides or drifts"), "when-a-deploy-dies-collides-or-drifts");
        assert.equal(anchorOf("The end-to-end suite (`npm run test:e2e`)"), "the-end-to-end-suite-npm-run-teste2e");
    });

    for (const page of pages) {
        it(`${page}: every relative link resolves`, () => {
            const broken = links(path.join(repoRoot, page)).filter((target) => {
                const [file, anchor] = target.split("#");
                const resolved = file ? path.resolve(path.dirname(path.join(repoRoot, page)), decodeURIComponent(file)) : path.join(repoRoot, page);
                if (!resolved.startsWith(repoRoot) || !fs.existsSync(resolved)) return true;
                return anchor !== undefined && resolved.endsWith(".md") && !anchors(resolved).has(anchor);
            });
            assert.deepEqual(broken, []);
        });
    }
});
