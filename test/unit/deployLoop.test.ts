// bench/deployLoop.ts: what it needs before it measures anything, and how it reports.
import { strict as assert } from "assert";
import { missingTools, report } from "../../bench/deployLoop";

describe("deploy-loop benchmark", () => {
    it("names each missing tool, and nothing when all are there", () => {
        const none = () => false;
        assert.deepEqual(missingTools(none, none), [
            "the Pulumi CLI (`pulumi`)",
            "its Node.js language host (`pulumi-language-nodejs`)",
            "the Docker provider (`pulumi-resource-docker`)",
            "docker-compose (Debian's package)",
        ]);
        assert.deepEqual(missingTools((bin) => bin !== "pulumi-resource-docker", (kind, name) => kind === "resource" && name === "docker"), []);
    });

    it("reports medians, ratios and whether each target is met", () => {
        const f: Record<string, number[]> = {
            "first.ours": [7, 6, 9], "first.compose": [1, 2, 3],
            "noopPreview.npm": [2, 3, 2], "noopPreview.plain": [4, 4, 5],
            "noopUp.npm": [2, 2, 2], "noopUp.plain": [8, 9, 8], "noopUp.compose": [1, 1, 1],
            "edit.npm.answered": [3.5, 3.6, 3.7], "edit.plain.answered": [10, 11, 10], "edit.compose.answered": [1.8, 1.8, 1.8],
            "edit.npm.failed": [10, 11, 12], "edit.plain.failed": [12, 12, 13], "edit.compose.failed": [9, 9, 9],
            "edit.npm.outage": [1.2, 1.3, 1.25], "edit.plain.outage": [1.3, 1.3, 1.3], "edit.compose.outage": [1.2, 1.2, 1.2],
            "edit.watch.answered": [2.6, 2.8, 2.7], "edit.watch.failed": [8, 9, 10], "edit.watch.outage": [1.1, 1.2, 1.3],
        };
        const table = report(f, ["pulumi v3.248.0"]);
        assert.match(table, /^<!-- deploy-loop -->\n/);
        assert.match(table, /Tools: pulumi v3\.248\.0\./);
        assert.match(table, /\| first run, warm build cache: `npm run up:dev` \/ `up -d --build` \| 7\.00 \| 2\.00 \| 3\.5× \| — \| — \|/);
        assert.match(table, /\| no-op `npm run preview:dev` \| 2\.00 \| — \| — \| ≤ 2\.5 s \| yes \|/);
        assert.match(table, /\| no-op `npm run up:dev` \/ `up -d --build` \| 2\.00 \| 1\.00 \| 2\.0× \| ≤ 2× \| yes \|/);
        // 2.7 / 1.8 = 1.5×: met; 3.6 / 1.8 = 2.0×: not.
        assert.match(table, /\| save → new container answers: `npm run watch:dev` \/ `up -d --build` \| 2\.70 \| 1\.80 \| 1\.5× \| ≤ 1\.5× \| yes \|/);
        assert.match(table, /\| one-line change → new container answers: `npm run up:dev` \/ `up -d --build` \| 3\.60 \| 1\.80 \| 2\.0× \| ≤ 1\.7× \| \*\*no\*\* \|/);
        assert.match(table, /`watch:dev`; `up:dev`; `pulumi up`\) \| 8, 9, 10; 10, 11, 12; 12, 12, 13 \| 9, 9, 9 \|/);
    });
});
