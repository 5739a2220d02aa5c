// components/cli/buildProgress.ts: the docker provider's build progress dropped from a log, everything else kept.
import { strict as assert } from "assert";
import { withoutBuildProgress } from "../../components/cli/buildProgress";

const HEX = "0ebf17c959d8566c5bcc306ddf785a5c179923282ed86ab46f52bd9a69cb0e04";

describe("withoutBuildProgress", () => {
    const dropped = [
        ` ~  docker:index:Image server-image-build update [diff: ~build,imageName]; digest: sha256:${HEX}`,
        ` ~  docker:index:Image server-image-build updating (0s) [diff: ~build,imageName]; digest: sha256:${HEX}`,
        ` ~  docker:index:Image server-image-build updating (1s) [diff: ~build,imageName]; Starting Docker build`,
        ` ~  docker:index:Image server-image-build update [diff: ~build,imageName]; Built image with ID sha256:${HEX}`,
        ` ~  docker:index:Image server-image-build update [diff: ~build,imageName]; Built image with local id "sha256:${HEX}", polling image store for image`,
        ` ~  docker:index:Image server-image-build updating (0s) [diff: ~build,imageName]; Successfully tagged dockyard/server:sha-8962d337db1074433f53`,
        ` +  docker:index:Image hello-image-build creating (0s) digest: sha256:${HEX}`,
        ` ~  docker:index:Image server-image-build updating (0s) [diff: ~build,imageName]; writing image sha256:${HEX}`,
        " ~  docker:index:Image server-image-build updating (0s) [diff: ~build,imageName]; naming to docker.io/dockyard/server:sha-3583e1aa8d67131eb1da",
        ` +  docker:index:Image hello-image-build creating (0s) Image built successfully, local id "sha256:${HEX}"`,
    ];
    for (const line of dropped) {
        it(`drops ${line.slice(line.indexOf("build ") + 6, line.indexOf("build ") + 60)}…`, () => assert.equal(withoutBuildProgress(line), undefined));
    }

    it("keeps a step's final row, without the progress message it ends on", () => {
        assert.equal(
            withoutBuildProgress(` ~  docker:index:Image server-image-build updated (0.08s) [diff: ~build,imageName]; Image built successfully, local id "sha256:${HEX}"`),
            " ~  docker:index:Image server-image-build updated (0.08s) [diff: ~build,imageName]",
        );
        assert.equal(
            withoutBuildProgress(` +  docker:index:Image server-image-build created (0.23s) Image built successfully, local id "sha256:${HEX}"`),
            " +  docker:index:Image server-image-build created (0.23s)",
        );
    });

    const kept = [
        // The failure, and the compiler's own words when the provider passes them on.
        ` ~  docker:index:Image server-image-build update [diff: ~build,imageName]; error: Preview failed: error reading build output: executor failed running [/bin/sh -c go build]: exit code: 1`,
        " ~  docker:index:Image server-image-build update [diff: ~build,imageName]; # github.com/dockyard/apps/server",
        " ~  docker:index:Image server-image-build update [diff: ~build,imageName]",
        // Other resources, and diagnostics, stay word for word even when they mention a digest.
        ` +- docker:index:Container server-workload-container replace [diff: ~image,labels]; digest: sha256:${HEX}`,
        `    imageRef: "registry.example.com/server@sha256:${HEX}"`,
        "Resources:",
        "",
    ];
    for (const line of kept) {
        it(`keeps ${JSON.stringify(line.slice(0, 70))}`, () => assert.equal(withoutBuildProgress(line), line));
    }
});
