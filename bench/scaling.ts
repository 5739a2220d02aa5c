// One scaling measurement, in its own process: `compose` with N copies of the
// server app on a target, evaluated under Pulumi mocks. Prints JSON.
// With "raw", the same provider resources are declared directly, without the
// components: the floor the Pulumi SDK itself sets.
import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { compose } from "../compose";
import { type StackPlan, toGoAppArgs } from "../config";

async function main() {
    const [target, count, mode] = [process.argv[2] as "docker" | "kubernetes", Number(process.argv[3]), process.argv[4] ?? "components"];
    let registered = 0;
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                registered++;
                const state: Record<string, unknown> = { ...args.inputs };
                if (args.type === "docker:index/image:Image") state.repoDigest = `${args.inputs.imageName}@sha256:${"0".repeat(64)}`;
                return { id: `${args.name}-id`, state };
            },
            call: (args) => args.inputs,
        },
        "dockyard",
        "bench",
        false,
    );
    const settings = { target, apps: {}, appsDir: "apps", buildOnPreview: true, namespace: target === "kubernetes" ? "bench" : undefined };
    const started = process.hrtime.bigint();
    const plan: StackPlan = {
        target,
        createNamespace: false,
        podSecurityVersion: "v1.37",
        apps: Array.from({ length: count }, (_, i) => ({ name: `app-${i}`, args: toGoAppArgs("server", {}, settings) })),
    };
    const outputs: pulumi.Output<unknown>[] =
        mode === "raw" ? plan.apps.map(({ name }) => raw(target, name)) : Object.values(compose(plan)).map((o) => pulumi.all([o.imageRef, o.endpoint]));
    await Promise.all(outputs.map((o) => new Promise((resolve) => o.apply(resolve))));
    // A resource whose inputs wait on another's outputs (the Deployment on the image's digest) registers after
    // the outputs above resolve: the run ends when the engine has every registration.
    await pulumi.runtime.disconnect();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(JSON.stringify({ ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, registered }));
}

/** The provider resources a GoApp makes, declared bare. */
function raw(target: string, name: string): pulumi.Output<unknown> {
    const image = new docker.Image(`${name}-build`, { imageName: `dockyard/server:sha-${name}`, build: { context: "apps/server" }, skipPush: true });
    if (target === "docker") {
        const c = new docker.Container(`${name}-container`, { image: image.imageName, ports: [{ internal: 8080, ip: "127.0.0.1" }] });
        return pulumi.all([image.imageName, c.ports]);
    }
    const labels = { app: name };
    const d = new k8s.apps.v1.Deployment(`${name}-deployment`, {
        spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name, image: image.imageName }] } } },
    });
    const s = new k8s.core.v1.Service(`${name}-service`, { spec: { selector: labels, ports: [{ port: 8080 }] } });
    return pulumi.all([image.imageName, d.metadata.name, s.metadata.name]);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
