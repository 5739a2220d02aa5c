// Error hooks that say, in the stack's own log, why a resource's create or update failed: the provider's
// error names the object and its timeout, not the setting that would fix it.
import * as pulumi from "@pulumi/pulumi";
import { AsyncLocalStorage } from "async_hooks";

const hookNames = new WeakMap<object, Set<string>>();

/**
 * An `onError` hook that logs `explain(args)` against `resource` (the failed one's component: the hook is made
 * before the failed resource is) when it has something to say, then lets the failure stand. Returns nothing
 * where the SDK or the CLI has no error hooks. @internal
 */
export function explainFailure(
    resource: pulumi.Resource,
    name: string,
    explain: (args: pulumi.ErrorHookArgs) => Promise<string | undefined>,
): pulumi.ResourceHookBinding | undefined {
    const monitor = pulumi.runtime.getMonitor();
    if (monitor === undefined || !errorHooksSupported(monitor)) return undefined;
    // Hook names are unique per program run; two workloads may share a name under different parents. An
    // Automation API process runs the program many times, each with a monitor of its own.
    const taken = hookNames.get(monitor) ?? new Set<string>();
    hookNames.set(monitor, taken);
    let hookName = name;
    for (let n = 2; taken.has(hookName); n++) hookName = `${name}-${n}`;
    taken.add(hookName);
    // The engine calls hooks back outside the program's async context, where an Automation API inline program's
    // log would find no engine (and print to the host's console instead): log from the context it was made in.
    const inProgramContext = AsyncLocalStorage.snapshot();
    const hook = new pulumi.ErrorHook(hookName, async (args) => {
        let message: string | undefined;
        try {
            message = await explain(args);
        } catch (e) {
            message = `(could not read why: ${(e as Error).message})`;
        }
        // Awaited: once the hook answers, the engine ends the step, and a message still in flight is lost.
        if (message !== undefined) await inProgramContext(() => pulumi.log.error(message, resource));
        return false;
    });
    return { onError: [hook] };
}

/**
 * Error hooks arrived in @pulumi/pulumi 3.2xx and need a CLI that offers them: registering one elsewhere fails
 * the whole deployment. The runtime records what the CLI offered before the program runs. Pulumi's mocks claim
 * the feature without a monitor that registers hooks (a registration never returns), so a monitor must have it.
 */
function errorHooksSupported(monitor: object): boolean {
    if (typeof pulumi.ErrorHook !== "function") return false;
    if (typeof (monitor as { registerErrorHook?: unknown }).registerErrorHook !== "function") return false;
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const state = require("@pulumi/pulumi/runtime/state") as { getStore?: () => { supportsErrorHooks?: boolean } };
        return state.getStore?.().supportsErrorHooks === true;
    } catch {
        return false;
    }
}
