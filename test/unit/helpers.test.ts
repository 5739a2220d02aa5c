// Pure helpers, tested directly.
import { strict as assert } from "assert";
import { isFloatingImageRef } from "../../components/internal/imageRef";
import { formatProblem } from "../../components/internal/problems";
import { dockerCpus, dockerMemoryMiB, parseQuantity } from "../../components/internal/quantity";

describe("parseQuantity", () => {
    const valid: [string, number][] = [
        ["500m", 0.5],
        ["0.5", 0.5],
        [".25", 0.25],
        ["2", 2],
        ["128Mi", 128 * 2 ** 20],
        ["1Gi", 2 ** 30],
        ["1G", 1e9],
        ["64k", 64e3],
        ["1e3", 1000],
        ["5E-3", 0.005],
    ];
    for (const [q, want] of valid) {
        it(`reads ${q} as ${want}`, () => assert.equal(parseQuantity(q), want));
    }
    for (const q of ["", "abc", "1.2.3", "-1", "5 Mi", "5mi", "Mi", "1KiB", "0x10"]) {
        it(`rejects ${JSON.stringify(q)}`, () => assert.equal(parseQuantity(q), undefined));
    }
});

describe("Docker limits from quantities", () => {
    it("turns CPU quantities into cpus", () => {
        assert.equal(dockerCpus("500m"), "0.5");
        assert.equal(dockerCpus("2"), "2");
        assert.equal(dockerCpus("1250m"), "1.25");
    });
    it("turns memory quantities into MiB, rounding up", () => {
        assert.equal(dockerMemoryMiB("128Mi"), 128);
        assert.equal(dockerMemoryMiB("1Gi"), 1024);
        assert.equal(dockerMemoryMiB("1G"), 954);
    });
    it("refuses what does not parse", () => {
        assert.throws(() => dockerCpus("lots"), /not a CPU quantity: lots/);
        assert.throws(() => dockerMemoryMiB("big"), /not a memory quantity: big/);
    });
});

describe("isFloatingImageRef", () => {
    const digest = "a".repeat(64);
    const cases: [string, boolean][] = [
        ["server", true],
        ["server:latest", true],
        ["ghcr.io/acme/server", true],
        ["ghcr.io/acme/server:latest", true],
        ["localhost:5000/server", true],
        ["localhost:5000/server:latest", true],
        ["server:", true],
        ["dockyard/server:sha-0123456789abcdef0123", false],
        ["localhost:5000/server:sha-0123456789abcdef0123", false],
        [`ghcr.io/acme/server@sha256:${digest}`, false],
        ["server:v1.2.3", false],
    ];
    for (const [ref, floating] of cases) {
        it(`${ref} is ${floating ? "floating" : "pinned"}`, () => assert.equal(isFloatingImageRef(ref), floating));
    }
});

describe("formatProblem", () => {
    it("names the field, shows the value and what is allowed", () => {
        assert.equal(formatProblem({ field: "port", value: 70000, allowed: "an integer from 1 to 65535" }), "port = 70000: an integer from 1 to 65535");
        assert.equal(formatProblem({ field: "kind", value: "batch", allowed: "x" }), 'kind = "batch": x');
        assert.equal(formatProblem({ field: "target", value: undefined, allowed: "x" }), "target = (unset): x");
    });
});
