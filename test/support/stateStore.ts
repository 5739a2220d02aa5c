// The end-to-end suite's shared state backend: a real S3-compatible object store (the Versity S3
// Gateway, built by test/harness/engines/versitygw.sh) serving a directory of the suite's, with its own
// credentials and a bucket, the way CI points PULUMI_BACKEND_URL at a bucket. Always stopped.
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { randomBytes } from "crypto";
import { freePort, repoRoot, run, waitUntil } from "./docker";
import { engineDir } from "./engine";

export interface StateStore {
    /** What PULUMI_BACKEND_URL names: the bucket, a prefix, and how to reach the store. */
    backendUrl: string;
    /** The credentials the CLI reads. */
    env: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string };
    /** The directory behind the bucket: `<bucket>/<prefix>/.pulumi/…`, for tests that look at the files. */
    root: string;
    /**
     * Writes an object under the prefix (`.pulumi/…`) through the S3 API, as the CLI writes one: the store keeps a
     * checksum beside each object, so a file changed behind its back no longer reads.
     */
    put: (key: string, body: string) => Promise<void>;
    stop: () => void;
}

/** Starts the store on a free loopback port, with a bucket; `dir` holds its data and log. */
export async function startStateStore(dir: string): Promise<StateStore> {
    const versitygw = path.join(engineDir("versitygw.sh"), "versitygw");
    const s3bucket = path.join(dir, "s3bucket");
    execFileSync("go", ["build", "-o", s3bucket, "./cmd/s3bucket"], { cwd: path.join(repoRoot, "test", "e2e", "tools"), env: { ...process.env, CGO_ENABLED: "0" } });
    const root = path.join(dir, "data");
    fs.mkdirSync(root, { recursive: true });
    const env = { AWS_ACCESS_KEY_ID: `e2e${randomBytes(6).toString("hex")}`, AWS_SECRET_ACCESS_KEY: randomBytes(24).toString("hex") };
    const port = await freePort();
    const log = fs.openSync(path.join(dir, "versitygw.log"), "a");
    const child: ChildProcess = spawn(versitygw, ["--access", env.AWS_ACCESS_KEY_ID, "--secret", env.AWS_SECRET_ACCESS_KEY, "--port", `127.0.0.1:${port}`, "--quiet", "posix", root], {
        stdio: ["ignore", log, log],
    });
    const stop = () => {
        if (child.exitCode === null) child.kill("SIGKILL");
    };
    process.once("exit", stop);
    const endpoint = `http://127.0.0.1:${port}`;
    try {
        await waitUntil("the S3 store to make the state bucket", 20_000, async () => {
            if (child.exitCode !== null) throw new Error(`versitygw exited (${child.exitCode}): ${fs.readFileSync(path.join(dir, "versitygw.log"), "utf8")}`);
            const r = await run(s3bucket, ["-endpoint", endpoint, "dockyard-state"], { env });
            return r.code === 0 ? true : undefined;
        });
    } catch (e) {
        stop();
        throw e;
    }
    return {
        backendUrl: `s3://dockyard-state/e2e?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&use_path_style=true`,
        env,
        root: path.join(root, "dockyard-state", "e2e"),
        put: async (key, body) => {
            const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
            try {
                await s3.send(new PutObjectCommand({ Bucket: "dockyard-state", Key: `e2e/${key}`, Body: body }));
            } finally {
                s3.destroy();
            }
        },
        stop,
    };
}
