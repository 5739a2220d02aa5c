import dockerignore from "@balena/dockerignore";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/** Everything that decides what an image build produces. @internal */
export interface BuildInputs {
    /** The build context directory. */
    context: string;
    /** The Dockerfile's path. */
    dockerfile: string;
    /** Build args as passed to the build. */
    buildArgs: Record<string, string>;
    /** Target platform, if one is forced. */
    platform?: string;
    /** Target stage, if not the last. */
    target?: string;
}

/** Hex digits of the digest kept in the tag: 80 bits, far past any collision risk for one repository. */
const TAG_HEX = 20;

/**
 * A tag derived from the bytes that go into the build: the files the engine
 * would receive (honouring .dockerignore), the Dockerfile, the build args,
 * platform and target. Same inputs, same tag; any change, a new one. @internal
 */
export function contentTag(inputs: BuildInputs): string {
    return `sha-${contentDigest(inputs).slice(0, TAG_HEX)}`;
}

/** @internal */
export function contentDigest(inputs: BuildInputs): string {
    const hash = crypto.createHash("sha256");
    const field = (name: string, value: string | Buffer) => {
        hash.update(`${name}\0${Buffer.byteLength(value)}\0`);
        hash.update(value);
    };
    field("dockerfile", fs.readFileSync(inputs.dockerfile));
    for (const key of Object.keys(inputs.buildArgs).sort()) field(`arg:${key}`, inputs.buildArgs[key]);
    if (inputs.platform) field("platform", inputs.platform);
    if (inputs.target) field("target", inputs.target);
    for (const file of contextFiles(inputs.context, inputs.dockerfile)) {
        const full = path.join(inputs.context, file);
        const stat = fs.lstatSync(full);
        // The executable bit reaches the image, so it is part of the content.
        const mode = stat.mode & 0o111 ? "x" : "-";
        if (stat.isSymbolicLink()) field(`link:${file}`, fs.readlinkSync(full));
        else field(`file:${mode}:${file}`, fs.readFileSync(full));
    }
    return hash.digest("hex");
}

/**
 * The context's files as the engine sees them, as sorted slash-separated
 * relative paths. BuildKit prefers `<Dockerfile>.dockerignore` beside the
 * Dockerfile over the context's `.dockerignore`. @internal
 */
export function contextFiles(context: string, dockerfile: string): string[] {
    const ignored = dockerignore({ ignorecase: false }).add(readIgnoreFile(context, dockerfile));
    const files: string[] = [];
    const walk = (rel: string) => {
        for (const entry of fs.readdirSync(path.join(context, rel), { withFileTypes: true })) {
            const child = rel ? `${rel}/${entry.name}` : entry.name;
            if (entry.isDirectory()) walk(child);
            else if (!ignored.ignores(child)) files.push(child);
        }
    };
    walk("");
    return files.sort();
}

function readIgnoreFile(context: string, dockerfile: string): string[] {
    for (const candidate of [`${dockerfile}.dockerignore`, path.join(context, ".dockerignore")]) {
        if (fs.existsSync(candidate)) return fs.readFileSync(candidate, "utf8").split(/\r?\n/);
    }
    return [];
}
