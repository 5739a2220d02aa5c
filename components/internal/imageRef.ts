import type * as pulumi from "@pulumi/pulumi";
import { type ArgProblem, known } from "./problems";

const DIGEST_REF = /^[^@\s]+@sha256:[0-9a-f]{64}$/;

/** True for `repository@sha256:<64 hex>`: an image pinned by its content, pullable as written. */
export function isDigestRef(ref: string | undefined): boolean {
    return ref !== undefined && DIGEST_REF.test(ref);
}

/**
 * True for a reference that can move under a deployment: untagged (implicitly
 * `latest`) or tagged `latest`. A digest or any other explicit tag is pinned.
 */
export function isFloatingImageRef(ref: string): boolean {
    if (/@sha256:[0-9a-f]{64}$/.test(ref)) return false;
    const name = ref.slice(ref.lastIndexOf("/") + 1);
    const colon = name.indexOf(":");
    if (colon < 0) return true;
    const tag = name.slice(colon + 1);
    return tag === "" || tag === "latest";
}

/** @internal */
export function floatingImageProblem(field: string, image: pulumi.Input<string> | undefined): ArgProblem | undefined {
    if (image === undefined || image === "") return { field, value: image, allowed: "an image reference by digest (repo@sha256:…) or content tag" };
    if (!known(image)) return undefined;
    if (typeof image !== "string" || isFloatingImageRef(image)) {
        return { field, value: image, allowed: "a digest (repo@sha256:…) or an explicit content tag, never latest or untagged" };
    }
    return undefined;
}
