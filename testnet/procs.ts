/**
 * Processes the harness starts inside namespaces, and the only processes it ever kills.
 *
 * Every process is started in a new session (setsid), so it leads its own process group and the
 * group holds exactly what it forked; it is recorded (pid + kernel start time) in the run's
 * procs/ directory before anyone can ask for it to be stopped. Stopping sends SIGTERM to the
 * group, waits, then SIGKILL. A record whose pid now belongs to another process is dropped,
 * never signalled.
 */
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import type { Subprocess } from "bun";
import { inNetns } from "./run.ts";
import {
  forgetProc,
  isAlive,
  listProcs,
  type ProcKind,
  type ProcRecord,
  procGroup,
  procStartTime,
  recordProc,
} from "./state.ts";

/**
 * Environment variable set on every process the harness starts for a run (and so inherited by
 * everything those start): `VEILNET_TESTNET_RUN=<prefix>`. It finds the run's processes even when
 * their recorder died before writing a record, e.g. an `ip -batch` orphaned by a killed `up`.
 */
export const RUN_MARKER = "VEILNET_TESTNET_RUN";

export function runMarker(prefix: string): Record<string, string> {
  return { [RUN_MARKER]: prefix };
}

export type StdioOption = "pipe" | "inherit" | "ignore" | number;

export interface SpawnOptions {
  stdin?: StdioOption;
  stdout?: StdioOption;
  stderr?: StdioOption;
  /** Extra environment (merged over this process's environment). */
  env?: Record<string, string>;
  cwd?: string;
  /** Append stdout and stderr to this file instead (overrides stdout/stderr). */
  logFile?: string;
}

export interface TrackedTarget {
  prefix: string;
  host: string;
  netns: string;
}

/** A process running inside a mesh host; `stop()` ends its whole process group. */
export class MeshProcess {
  readonly pid: number;
  readonly host: string;
  readonly argv: readonly string[];
  /** Resolves with the exit code (128 + signal number when killed by a signal). */
  readonly exited: Promise<number>;
  /** Present when spawned with `stdout: "pipe"` (the default for `Mesh.spawn`). */
  readonly stdout: ReadableStream<Uint8Array> | null;
  readonly stderr: ReadableStream<Uint8Array> | null;
  /** Present when spawned with `stdin: "pipe"`. */
  readonly stdin: import("bun").FileSink | null;
  readonly #prefix: string;
  readonly #proc: Subprocess;

  constructor(target: TrackedTarget, argv: readonly string[], proc: Subprocess) {
    this.#prefix = target.prefix;
    this.#proc = proc;
    this.pid = proc.pid;
    this.host = target.host;
    this.argv = argv;
    this.stdout = proc.stdout instanceof ReadableStream ? proc.stdout : null;
    this.stderr = proc.stderr instanceof ReadableStream ? proc.stderr : null;
    this.stdin = proc.stdin && typeof proc.stdin === "object" && "write" in proc.stdin ? proc.stdin : null;
    this.exited = proc.exited.then((code) => {
      forgetProc(this.#prefix, this.pid);
      return code;
    });
  }

  /** Sends `signal` to the process group (the process and everything it forked). */
  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    signalGroup(this.pid, signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  async stop(graceMs = 1000): Promise<number> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lets this process exit without waiting for the child (it stays tracked for `down`). */
  unref(): void {
    this.#proc.unref();
  }
}

/** Starts `argv` in the target's namespace in a new session and records it. */
export function spawnTracked(
  target: TrackedTarget,
  argv: readonly string[],
  opts: SpawnOptions,
  kind: ProcKind,
  extra: { edge?: number } = {},
): MeshProcess {
  if (argv.length === 0) throw new RangeError("spawn needs a command");
  let logFd: number | undefined;
  if (opts.logFile) logFd = openSync(opts.logFile, "a", 0o644);
  try {
    const proc = Bun.spawn(inNetns(target.netns, argv), {
      stdin: opts.stdin ?? "ignore",
      stdout: logFd ?? opts.stdout ?? "pipe",
      stderr: logFd ?? opts.stderr ?? "pipe",
      env: {
        ...process.env,
        VEILNET_TESTNET_PREFIX: target.prefix,
        VEILNET_TESTNET_HOST: target.host,
        [RUN_MARKER]: target.prefix,
        ...opts.env,
      },
      cwd: opts.cwd,
      detached: true,
    });
    const rec: ProcRecord = {
      pid: proc.pid,
      startTime: procStartTime(proc.pid) ?? "",
      kind,
      host: target.host,
      argv: [...argv],
      ...(extra.edge !== undefined ? { edge: extra.edge } : {}),
      ...(opts.logFile ? { log: opts.logFile } : {}),
    };
    if (rec.startTime !== "") recordProc(target.prefix, rec);
    return new MeshProcess(target, argv, proc);
  } finally {
    if (logFd !== undefined) closeSync(logFd);
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops every recorded process of the run that `filter` selects: SIGTERM to each group, then
 * SIGKILL to what is left after `graceMs`. Returns how many live processes were stopped.
 */
export async function stopTracked(
  prefix: string,
  filter: (r: ProcRecord) => boolean = () => true,
  graceMs = 1500,
): Promise<number> {
  const records = listProcs(prefix).filter(filter);
  const live = records.filter((r) => isAlive(r));
  for (const r of records) if (!live.includes(r)) forgetProc(prefix, r.pid);
  for (const r of live) signalGroup(r.pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && live.some((r) => groupAlive(r.pid) && !isZombie(r.pid)))
    await Bun.sleep(25);
  for (const r of live) if (groupAlive(r.pid)) signalGroup(r.pid, "SIGKILL");
  for (const r of live) forgetProc(prefix, r.pid);
  return live.length;
}

/** Pids of this process and its ancestors: never signalled, whatever their environment says. */
function selfAndAncestors(): Set<number> {
  const out = new Set<number>();
  for (let pid = process.pid; pid > 1 && !out.has(pid); ) {
    out.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      break;
    }
  }
  return out;
}

/** Live processes carrying the run marker of `prefix` (other than this process and its ancestors). */
export function markedProcesses(prefix: string): number[] {
  const needle = Buffer.from(`\0${RUN_MARKER}=${prefix}\0`);
  const skip = selfAndAncestors();
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || skip.has(pid)) continue;
    try {
      const env = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`), Buffer.from([0])]);
      if (env.includes(needle)) out.push(pid);
    } catch {
      // Gone, or a kernel thread.
    }
  }
  return out;
}

/** SIGKILLs every marked process of the run and waits (≤ 2 s) until they are gone. */
export async function killMarked(prefix: string): Promise<number> {
  const pids = markedProcesses(prefix);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && pids.some((p) => procStartTime(p) !== null && !isZombie(p)))
    await Bun.sleep(10);
  return pids.length;
}

/** Synchronous SIGKILL of every recorded live process (for `exit` handlers). */
export function killTrackedSync(prefix: string): void {
  for (const r of listProcs(prefix)) {
    if (isAlive(r)) signalGroup(r.pid, "SIGKILL");
    forgetProc(prefix, r.pid);
  }
}

/** Whether `pid` belongs to a process group the run started (leader recorded, possibly gone). */
export function inRecordedGroup(pid: number, recordedPids: ReadonlySet<number>): boolean {
  const g = procGroup(pid);
  return g !== null && recordedPids.has(g);
}

function isZombie(pid: number): boolean {
  const st = procStartTime(pid);
  if (st === null) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}
