// The Dockerfile facts the components act on: health check, declared build args, exposed ports.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { readDockerfile, undeclaredBuildArgs } from "../../components/internal/dockerfile";

const GREETER = path.join("test", "fixtures", "greeter");

describe("readDockerfile", () => {
    const healthchecks: [string, string, string | undefined, boolean][] = [
        ["none anywhere", "FROM scratch\nENTRYPOINT [\"/app\"]\n", undefined, false],
        ["in the final stage, exec form", 'FROM scratch\nHEALTHCHECK --interval=2s CMD ["/app", "-check"]\n', undefined, true],
        ["split over lines", "FROM scratch\nHEALTHCHECK --interval=2s \\\n    --retries=3 \\\n    CMD [\"/app\"]\n", undefined, true],
        ["only in the build stage, which the final stage does not come FROM", 'FROM golang AS build\nHEALTHCHECK CMD ["/x"]\nFROM scratch\n', undefined, false],
        ["inherited from the stage it is built FROM", 'FROM scratch AS base\nHEALTHCHECK CMD ["/x"]\nFROM base\nENTRYPOINT ["/x"]\n', undefined, true],
        ["inherited, then turned off", 'FROM scratch AS base\nHEALTHCHECK CMD ["/x"]\nFROM base\nHEALTHCHECK NONE\n', undefined, false],
        ["the last HEALTHCHECK of a stage wins", 'FROM scratch\nHEALTHCHECK NONE\nHEALTHCHECK CMD ["/x"]\n', undefined, true],
        ["in the target stage, not the last", 'FROM scratch AS web\nHEALTHCHECK CMD ["/x"]\nFROM scratch AS debug\n', "web", true],
        ["a stage name in other case", 'FROM scratch AS Base\nHEALTHCHECK CMD ["/x"]\nFROM base\n', undefined, true],
        ["a comment that mentions one", "FROM scratch\n# HEALTHCHECK CMD [\"/x\"]\n", undefined, false],
        ["an escape directive", '# escape=`\nFROM scratch\nHEALTHCHECK --interval=2s `\n  CMD ["/x"]\n', undefined, true],
    ];
    for (const [title, text, target, expected] of healthchecks) {
        it(`health check: ${title} → ${expected}`, () => assert.equal(readDockerfile(text, target).healthcheck, expected));
    }

    it("collects build args declared before the first FROM and in every stage", () => {
        const facts = readDockerfile("ARG GO_IMAGE=golang\nARG RUNTIME_IMAGE\nFROM ${GO_IMAGE} AS build\nARG VERSION=dev\nFROM ${RUNTIME_IMAGE}\nARG GO_IMAGE\n");
        assert.deepEqual(facts.declaredArgs.sort(), ["GO_IMAGE", "RUNTIME_IMAGE", "VERSION"]);
        assert.deepEqual(facts.stages, ["build"]);
    });

    it("reads the ports the built stage and its parents EXPOSE, not other stages'", () => {
        const facts = readDockerfile("FROM scratch AS tools\nEXPOSE 7000\nFROM scratch AS base\nEXPOSE 9090/tcp\nFROM base\nEXPOSE 9091 53/udp\n");
        assert.deepEqual(facts.exposedPorts, [9090, 9091]);
    });

    it("reads this project's apps and the outside-style fixture as Docker builds them", () => {
        assert.deepEqual(pick(readDockerfile(fs.readFileSync("apps/server/Dockerfile", "utf8"))), { healthcheck: true, exposedPorts: [8080], declares: ["GO_IMAGE", "RUNTIME_IMAGE"] });
        assert.deepEqual(pick(readDockerfile(fs.readFileSync("apps/hello/Dockerfile", "utf8"))), { healthcheck: false, exposedPorts: [], declares: ["GO_IMAGE", "RUNTIME_IMAGE"] });
        assert.deepEqual(pick(readDockerfile(fs.readFileSync(path.join(GREETER, "Dockerfile"), "utf8"))), { healthcheck: false, exposedPorts: [9090], declares: [] });
    });
});

describe("undeclaredBuildArgs", () => {
    const facts = readDockerfile("ARG GO_IMAGE\nFROM ${GO_IMAGE}\nARG VERSION\n");
    it("names what the Dockerfile never declares, sorted", () => assert.deepEqual(undeclaredBuildArgs(facts, ["VERSION", "TOKEN", "GO_IMAGE", "COMMIT"]), ["COMMIT", "TOKEN"]));
    it("accepts Docker's predefined proxy args and BuildKit's own without an ARG", () =>
        assert.deepEqual(undeclaredBuildArgs(facts, ["HTTPS_PROXY", "no_proxy", "BUILDKIT_INLINE_CACHE", "SOURCE_DATE_EPOCH"]), []));
});

function pick(facts: ReturnType<typeof readDockerfile>) {
    return { healthcheck: facts.healthcheck, exposedPorts: facts.exposedPorts, declares: facts.declaredArgs.sort() };
}
