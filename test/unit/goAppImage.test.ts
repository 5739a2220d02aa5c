import { strict as assert } from "assert";
import * as path from "path";
import { GoAppImage, hostPlatform } from "../../components/goAppImage";
import { contentTag } from "../../components/internal/contentTag";
import { isSecretInput, known, registered, resetRegistrations, typeChain, unwrap, useMocks } from "../support/mocks";

const IMAGE = "docker:index/image:Image";

describe("GoAppImage", () => {
    before(() => useMocks());
    beforeEach(resetRegistrations);

    it("builds the app's Dockerfile with BuildKit under a content tag, local by default", async () => {
        const image = new GoAppImage("srv", { appDir: "apps/server" });
        const tag = await known(image.tag);
        assert.equal(tag, contentTag({ context: "apps/server", dockerfile: path.join("apps/server", "Dockerfile"), buildArgs: {} }));
        assert.equal(await known(image.imageRef), `dockyard/server:${tag}`);
        assert.equal(await known(image.imageName), `dockyard/server:${tag}`);

        const build = registered(IMAGE, "srv-build").inputs;
        assert.equal(build.imageName, `dockyard/server:${tag}`);
        // The platform is always explicit (the engine's own by default), or the provider prints a paragraph on every run.
        assert.deepEqual(build.build, {
            context: "apps/server",
            dockerfile: "apps/server/Dockerfile",
            args: {},
            platform: hostPlatform(),
            builderVersion: "BuilderBuildKit",
        });
        assert.equal(build.skipPush, true);
        assert.equal(build.buildOnPreview, true);
        assert.equal(build.registry, undefined);
        assert.deepEqual(await typeChain(image.image), ["dockyard:image:GoAppImage", IMAGE]);
    });

    it("pushes to a registry, deploys by digest, and keeps the password secret", async () => {
        const image = new GoAppImage("pushed", {
            appDir: "apps/server",
            registry: { server: "localhost:5000", username: "ci", password: "hunter2" },
        });
        const tag = await known(image.tag);
        assert.match(await known(image.imageRef), /^localhost:5000\/server@sha256:[0-9a-f]{64}$/);
        assert.equal(await known(image.imageName), `localhost:5000/server:${tag}`);

        const build = registered(IMAGE, "pushed-build").inputs;
        assert.equal(build.skipPush, false);
        assert.ok(isSecretInput(build.registry), "the registry block, which holds the password, must reach the engine as a secret");
        assert.deepEqual(unwrap(build.registry), { server: "localhost:5000", username: "ci", password: "hunter2" });
    });

    it("passes goImage and runtimeImage as GO_IMAGE and RUNTIME_IMAGE, over buildArgs", async () => {
        const image = new GoAppImage("args", {
            appDir: "apps/server",
            goImage: "mirror.local/golang:1.26",
            runtimeImage: "mirror.local/static:nonroot",
            buildArgs: { GO_IMAGE: "ignored", EXTRA: "1" },
            platform: "linux/arm64",
            target: "build",
            repository: "ghcr.io/acme/server",
        });
        await known(image.image.urn);
        const build = registered(IMAGE, "args-build").inputs;
        assert.deepEqual(build.build.args, { GO_IMAGE: "mirror.local/golang:1.26", RUNTIME_IMAGE: "mirror.local/static:nonroot", EXTRA: "1" });
        assert.equal(build.build.platform, "linux/arm64");
        assert.equal(build.build.target, "build");
        assert.match(build.imageName, /^ghcr\.io\/acme\/server:sha-[0-9a-f]{20}$/);
    });

    it("gives a different tag when a build arg changes, the same when nothing does", async () => {
        const a = await known(new GoAppImage("t1", { appDir: "apps/server", goImage: "golang:1.26" }).tag);
        const b = await known(new GoAppImage("t2", { appDir: "apps/server", goImage: "golang:1.26" }).tag);
        const c = await known(new GoAppImage("t3", { appDir: "apps/server", goImage: "golang:1.27" }).tag);
        assert.equal(a, b);
        assert.notEqual(a, c);
    });

    it("can skip building during preview", async () => {
        const image = new GoAppImage("nopreview", { appDir: "apps/hello", buildOnPreview: false });
        await known(image.image.urn);
        assert.equal(registered(IMAGE, "nopreview-build").inputs.buildOnPreview, false);
    });

    it("names the default platform after this machine's CPU as Go and Docker spell it", () => {
        assert.equal(hostPlatform("x64"), "linux/amd64");
        assert.equal(hostPlatform("arm64"), "linux/arm64");
        assert.equal(hostPlatform("ia32"), "linux/386");
        assert.equal(hostPlatform("ppc64"), "linux/ppc64le");
        assert.equal(hostPlatform("mips"), "linux/mips");
    });
});
