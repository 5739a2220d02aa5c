// What proves a stack lock's holder dead: a record, made by the dockyard process that started the Pulumi CLI,
// of which process that was. A lock names only a host name and a pid, and a deploy in a container that shares
// the host's name (`--network host`, a CI job container) runs in another pid namespace, where the same pid is
// another process or none. So a lock's pid is looked up only among the records of this pid namespace, made
// since this boot, and a pid that runs again counts as the holder only with the start time it was recorded with.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** One Pulumi CLI a dockyard command started. */
export interface RunRecord {
    pid: number;
    /** The kernel's boot ID when it ran: pids restart with every boot. */
    bootId: string;
    /** The process's start time in clock ticks since boot (`/proc/<pid>/stat`, field 22): a reused pid has another. */
    startTime: string;
}

/** This process's pid namespace (`pid:[4026531836]`), or undefined where /proc does not tell (not Linux). */
export function pidNamespace(): string | undefined {
    try {
        return fs.readlinkSync("/proc/self/ns/pid");
    } catch {
        return undefined;
    }
}

function bootId(): string | undefined {
    try {
        return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
        return undefined;
    }
}

/** A running process's start time, or undefined when no such process runs here. */
export function startTime(pid: number): string | undefined {
    try {
        // The command name, field 2, is in parentheses and may hold spaces: count from after it.
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    } catch {
        return undefined;
    }
}

/** Where this pid namespace's records live: one folder per namespace, under the user's state directory. */
function recordsDir(namespace: string): string {
    const state = process.env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
    return path.join(state, "dockyard", "runs", namespace.replace(/[^A-Za-z0-9]+/g, "-"));
}

/** Records that this process started the CLI `pid`; nothing where /proc cannot identify it. */
export function recordRun(pid: number): void {
    const namespace = pidNamespace();
    const boot = bootId();
    const started = startTime(pid);
    if (namespace === undefined || boot === undefined || started === undefined) return;
    const dir = recordsDir(namespace);
    fs.mkdirSync(dir, { recursive: true });
    const record: RunRecord = { pid, bootId: boot, startTime: started };
    fs.writeFileSync(path.join(dir, `${pid}.json`), JSON.stringify(record));
}

/** Drops the record of `pid`, once the process that started it saw it exit (or its lock went). */
export function forgetRun(pid: number): void {
    const namespace = pidNamespace();
    if (namespace !== undefined) fs.rmSync(path.join(recordsDir(namespace), `${pid}.json`), { force: true });
}

/** The record of `pid` made in this pid namespace since this boot, if any. */
export function findRun(pid: number): RunRecord | undefined {
    const namespace = pidNamespace();
    if (namespace === undefined) return undefined;
    try {
        const record = JSON.parse(fs.readFileSync(path.join(recordsDir(namespace), `${pid}.json`), "utf8")) as RunRecord;
        return record.pid === pid && record.bootId === bootId() ? record : undefined;
    } catch {
        return undefined;
    }
}
