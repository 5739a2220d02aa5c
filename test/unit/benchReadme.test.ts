// bench/readme.ts: each benchmark rewrites its own section of bench/README.md and leaves the others.
import { strict as assert } from "assert";
import { withSection } from "../../bench/readme";

describe("bench README sections", () => {
    const text = "# Benchmarks\n\ntables\n\n<!-- deploy-loop -->\n## Deploy loop\nold loop\n\n<!-- registry-login -->\n## Registry login\nold login\n";

    it("replaces one section up to the next marker, keeping what comes after", () => {
        assert.equal(withSection(text, "<!-- deploy-loop -->", "<!-- deploy-loop -->\n## Deploy loop\nnew loop\n"), text.replace("old loop\n\n", "new loop\n\n"));
    });

    it("replaces the last section to the end", () => {
        assert.equal(withSection(text, "<!-- registry-login -->", "<!-- registry-login -->\nnew\n"), text.replace("<!-- registry-login -->\n## Registry login\nold login\n", "<!-- registry-login -->\nnew\n"));
    });

    it("appends a section that is not there yet", () => {
        assert.equal(withSection("# Benchmarks\n\ntables\n", "<!-- x -->", "<!-- x -->\nx\n"), "# Benchmarks\n\ntables\n\n<!-- x -->\nx\n");
    });
});
