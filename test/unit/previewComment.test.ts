import { strict as assert } from "assert";
import { COMMENT_LIMIT, changeSummary, commentMarker, policyViolations, promotedDigests, renderPreviewComment } from "../../components/cli/previewComment";

const preview = (resources: number) => `Previewing update (staging):
     Type                              Name                        Plan
 +   pulumi:pulumi:Stack               dockyard-staging            create
${Array.from({ length: resources }, (_, i) => ` +   ├─ kubernetes:apps/v1:Deployment  app-${i}-workload-deployment  create`).join("\n")}

Policies:
    ❌ dockyard@v0.1.0
        - [mandatory]  dockyard-images-pinned  (kubernetes:apps/v1:Deployment: app-0-workload-deployment)
          Images are deployed by digest or content tag, never by \`latest\` or untagged.
          kubernetes:apps/v1:Deployment "app-0-workload-deployment" container "server" runs image "nginx:latest": deploy it by digest.

Resources:
    + ${resources + 1} to create
    ~ 1 to update
    3 unchanged

Duration: 4s
`;

describe("preview comment", () => {
    it("reads the change summary and the policy violations", () => {
        assert.deepEqual(changeSummary(preview(2)), ["+ 3 to create", "~ 1 to update", "3 unchanged"]);
        assert.deepEqual(policyViolations(preview(2)), [
            '[mandatory]  dockyard-images-pinned  (kubernetes:apps/v1:Deployment: app-0-workload-deployment): kubernetes:apps/v1:Deployment "app-0-workload-deployment" container "server" runs image "nginx:latest": deploy it by digest.',
        ]);
    });

    it("puts the marker, summary and violations before the folded output", () => {
        const body = renderPreviewComment({ stack: "staging", output: preview(2), runUrl: "https://ci.example/run/1", succeeded: false });
        assert.ok(body.startsWith(commentMarker("staging")));
        const order = ["❌ `pulumi preview` — stack `staging`", "- + 3 to create", "**Policy violations (1):**", "<details><summary>Full preview output</summary>", "[Full output](https://ci.example/run/1)"];
        const at = order.map((s) => body.indexOf(s));
        assert.ok(at.every((i) => i >= 0), JSON.stringify(at));
        assert.deepEqual([...at].sort((a, b) => a - b), at);
        assert.ok(body.includes("app-1-workload-deployment"), "short output is shown whole");
    });

    it("stays under GitHub's limit on a huge diff, keeping the summary", () => {
        const output = preview(20_000);
        assert.ok(output.length > 1_000_000);
        const body = renderPreviewComment({ stack: "prod", output, runUrl: "https://ci.example/run/2", succeeded: true });
        assert.ok(body.length <= COMMENT_LIMIT, `${body.length} characters`);
        assert.ok(body.includes("- + 20001 to create"));
        assert.match(body, /… \d+ more characters not shown here/);
        assert.ok(body.trimEnd().endsWith("artifact."));
    });

    it("keeps the code fence closed when the output has backticks", () => {
        const body = renderPreviewComment({ stack: "dev", output: "before\n```\nafter", runUrl: "u", succeeded: true });
        assert.equal(body.match(/```/g)?.length, 2);
    });

    it("lists the digests a promoting stack would deploy, from the workflow's preamble", () => {
        const digest = `registry.example.com/server@sha256:${"a".repeat(64)}`;
        const output = `Promotes from staging (pinned apps excepted):\n  hello: registry.example.com/hello@sha256:${"b".repeat(64)}\n  server: ${digest}\n\n${preview(1)}`;
        assert.deepEqual(promotedDigests(output), { source: "staging", apps: [`hello: registry.example.com/hello@sha256:${"b".repeat(64)}`, `server: ${digest}`] });
        const comment = renderPreviewComment({ stack: "prod", output, runUrl: "https://example.com/run", succeeded: true });
        const head = comment.slice(0, comment.indexOf("<details>"));
        assert.match(head, /\*\*Promotes from `staging`\*\* \(pinned apps excepted\):\n- `hello: registry\.example\.com\/hello@sha256:b{64}`\n- `server: registry\.example\.com\/server@sha256:a{64}`/);
        assert.equal(promotedDigests(preview(1)), undefined);
    });

    it("says when there is no summary because the preview failed early", () => {
        const body = renderPreviewComment({ stack: "dev", output: "error: could not load plugin", runUrl: "u", succeeded: false });
        assert.match(body, /No change summary: the preview stopped before the end/);
    });
});
