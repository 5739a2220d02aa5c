// Kubernetes resource quantities ("250m", "0.5", "128Mi", "1G"), parsed so that
// bad values fail at construction and Docker can be given the same limits.

const QUANTITY = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[mkMGTPE])?$/;

const SUFFIX: Record<string, number> = {
    m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The quantity's value in base units (cores, bytes), or undefined if it does not parse. @internal */
export function parseQuantity(quantity: string): number | undefined {
    const m = QUANTITY.exec(quantity);
    if (!m) return undefined;
    const [, number, suffix] = m;
    const scale = suffix === undefined ? 1 : /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SUFFIX[suffix];
    return Number(number) * scale;
}

/** Docker's `cpus` string for a CPU quantity. @internal */
export function dockerCpus(cpu: string): string {
    const cores = parseQuantity(cpu);
    if (cores === undefined) throw new Error(`not a CPU quantity: ${cpu}`);
    return String(Math.round(cores * 1000) / 1000);
}

/** Docker's memory limit, in MiB rounded up, for a memory quantity. @internal */
export function dockerMemoryMiB(memory: string): number {
    const bytes = parseQuantity(memory);
    if (bytes === undefined) throw new Error(`not a memory quantity: ${memory}`);
    return Math.ceil(bytes / 2 ** 20);
}
