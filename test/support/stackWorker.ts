// One stack's inline program runs, in a process of their own. For each run the Automation API's language
// server hooks this whole process's `uncaughtException` and `unhandledRejection`: a stray error of one inline
// program fails every inline program running in the process at that moment (in CI, a gRPC `14 UNAVAILABLE`
// from elsewhere failed prod's `up` one second in). A stack whose runs go on beside the suite's runs here.
import type * as automation from "@pulumi/pulumi/automation";
import { type ChildProcess, fork } from "child_process";
import { once } from "events";
import { type EngineSettings, changes, openWorkspace } from "./engine";

/** What an `up` in the worker reports. */
export interface WorkerUp {
    summary: automation.UpdateSummary;
    outputs: automation.OutputMap;
    /** `changes()` of its events. */
    ops: string[];
}

/** What a `preview` in the worker reports. */
export interface WorkerPreview {
    changeSummary: automation.OpMap;
    ops: string[];
}

interface Results {
    up: WorkerUp;
    preview: WorkerPreview;
}
type Verb = keyof Results;
const WORKER_ENV = "DOCKYARD_E2E_STACK_WORKER";
type Request = { id: number; verb: Verb };
type Reply = { ready: true } | { id: number; value: Results[Verb] } | { id: number; error: string };

/** A child process holding one stack's workspace, which runs `up` and `preview` on request. */
export class StackWorker {
    private nextId = 0;
    private readonly waiting = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
    private readonly exited: Promise<void>;
    private readonly ready: Promise<void>;

    private constructor(private readonly child: ChildProcess) {
        let markReady!: () => void;
        const ready = new Promise<void>((resolve) => (markReady = resolve));
        child.on("message", (reply: Reply) => {
            if ("ready" in reply) return markReady();
            const waiter = this.waiting.get(reply.id)!;
            this.waiting.delete(reply.id);
            if ("error" in reply) waiter.reject(new Error(reply.error));
            else waiter.resolve(reply.value as never);
        });
        this.exited = once(child, "exit").then(([code, signal]) => {
            const gone = new Error(`the stack worker exited (${signal ?? `code ${code}`})`);
            for (const waiter of this.waiting.values()) waiter.reject(gone);
            this.waiting.clear();
        });
        // A worker that dies before it is ready fails the first request instead of hanging it.
        this.ready = Promise.race([ready, this.exited.then(() => Promise.reject(new Error("the stack worker exited before it was ready")))]);
        this.ready.catch(() => undefined);
    }

    /** Starts a worker for the existing stack `stackName` of the engine's project, running the program of compose.ts. */
    static start({ workDir, env, cliDir }: EngineSettings, stackName: string): StackWorker {
        const settings: EngineSettings = { workDir, env, cliDir };
        return new StackWorker(
            fork(__filename, [], {
                execArgv: ["-r", "ts-node/register/transpile-only"],
                // Not in argv, where any user's `ps` would show the engine's credentials.
                env: { ...process.env, [WORKER_ENV]: JSON.stringify({ settings, stackName }) },
                stdio: ["ignore", "inherit", "inherit", "ipc"],
            }),
        );
    }

    /** `up` on the stack; a failed update rejects with the engine's message. */
    up(): Promise<WorkerUp> {
        return this.ask("up");
    }

    /** `preview` on the stack; a failed preview rejects with the engine's message. */
    preview(): Promise<WorkerPreview> {
        return this.ask("preview");
    }

    /** Ends the worker. A run still going fails: its program goes with the worker, and its CLI ends the update. */
    async stop(): Promise<void> {
        if (this.child.exitCode === null && this.child.signalCode === null) this.child.disconnect();
        await this.exited;
    }

    private async ask<V extends Verb>(verb: V): Promise<Results[V]> {
        await this.ready;
        const id = this.nextId++;
        const reply = new Promise<Results[V]>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
        this.child.send({ id, verb } satisfies Request);
        return reply;
    }
}

/** The worker's side: one request at a time, as the suite sends them. */
async function serve(): Promise<void> {
    const { settings, stackName } = JSON.parse(process.env[WORKER_ENV]!) as { settings: EngineSettings; stackName: string };
    const { program } = await import("../../compose");
    const stack = await openWorkspace(settings, stackName, () => program());
    const send = (reply: Reply) => process.send!(reply);
    process.on("message", async ({ id, verb }: Request) => {
        const events: automation.EngineEvent[] = [];
        const opts = { onEvent: (e: automation.EngineEvent) => events.push(e), color: "never" as const };
        try {
            if (verb === "up") {
                const { summary, outputs } = await stack.up(opts);
                send({ id, value: { summary, outputs, ops: changes(events) } });
            } else {
                const { changeSummary } = await stack.preview(opts);
                send({ id, value: { changeSummary, ops: changes(events) } });
            }
        } catch (e) {
            send({ id, error: (e as Error).message });
        }
    });
    process.on("disconnect", () => process.exit(0));
    send({ ready: true });
}

if (require.main === module) {
    serve().catch((e: Error) => {
        console.error(`stack worker: ${e.stack ?? e.message}`);
        process.exit(1);
    });
}
