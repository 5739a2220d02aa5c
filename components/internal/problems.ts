import * as pulumi from "@pulumi/pulumi";

/** One thing wrong with a component's arguments. */
export interface ArgProblem {
    /** Dotted path of the offending field, e.g. `kubernetes.replicas`. */
    field: string;
    /** The value given. */
    value: unknown;
    /** What would have been accepted. */
    allowed: string;
}

/**
 * Thrown before a component registers anything, listing every problem with its arguments at once.
 */
export class InvalidArgsError extends Error {
    constructor(
        readonly component: string,
        readonly problems: readonly ArgProblem[],
    ) {
        super(`invalid arguments for ${component}:\n${problems.map((p) => `  - ${formatProblem(p)}`).join("\n")}`);
        this.name = "InvalidArgsError";
    }
}

/** `field = value: allowed`, the one-line form used in every error message. */
export function formatProblem(p: ArgProblem): string {
    return `${p.field} = ${show(p.value)}: ${p.allowed}`;
}

function show(value: unknown): string {
    if (value === undefined) return "(unset)";
    // Never its text: an Output may be a secret, and is only known at deploy time.
    if (pulumi.Output.isInstance(value) || value instanceof Promise) return "(an Output)";
    if (typeof value === "string") return JSON.stringify(value);
    try {
        return JSON.stringify(value) ?? String(value);
    } catch {
        return String(value);
    }
}

/** Throws one InvalidArgsError if there is anything to report. @internal */
export function throwIfAny(component: string, problems: ArgProblem[]): void {
    if (problems.length > 0) throw new InvalidArgsError(component, problems);
}

/** Prefixes nested problems with the field they were found under. @internal */
export function under(prefix: string, problems: ArgProblem[]): ArgProblem[] {
    return problems.map((p) => ({ ...p, field: `${prefix}.${p.field}` }));
}

/**
 * True when an Input is a plain value available now; Outputs and promises are
 * checked by the provider at deploy time instead. @internal
 */
export function known<T>(value: pulumi.Input<T> | undefined): value is T {
    return value !== undefined && !pulumi.Output.isInstance(value) && !(value instanceof Promise);
}

/** Collects problems for integer fields that must fall in a range. @internal */
export function checkInteger(problems: ArgProblem[], field: string, value: unknown, min: number, max: number): void {
    if (value === undefined || !known(value as pulumi.Input<unknown>)) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        problems.push({ field, value, allowed: `an integer from ${min} to ${max}` });
    }
}

/** Collects a problem when a string field is not one of the allowed words. @internal */
export function checkOneOf<T extends string>(problems: ArgProblem[], field: string, value: unknown, allowed: readonly T[]): void {
    if (value === undefined || !known(value as pulumi.Input<unknown>)) return;
    if (!allowed.includes(value as T)) {
        problems.push({ field, value, allowed: `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}` });
    }
}
