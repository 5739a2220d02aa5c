// Status conditions as Kubernetes controllers write them, in the words `up`'s failure messages use.

/** One entry of an object's `status.conditions`. @internal */
export interface Condition {
    type: string;
    status: string;
    reason?: string;
    message?: string;
}

/** `Type=Status (Reason: message)`. @internal */
export function said(c: Condition): string {
    return `${c.type}=${c.status}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ""})` : ""}`;
}
