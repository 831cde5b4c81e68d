/**
 * A run's state directory, /run/veilnet-testnet/<prefix>/ (override the root with
 * VEILNET_TESTNET_STATE_ROOT):
 *
 *   state.json        the plan (every name the run creates), phase, builder and owner process
 *   procs/<pid>.json  one record per process the harness started (spawn, exec, delay forwarder)
 *   links/<k>.json    the conditions set on edge k (down, loss, rate, delay)
 *   logs/             stdout/stderr of background processes
 *
 * Processes are identified by pid *and* kernel start time, so a recycled pid is never mistaken
 * for one of ours. Several processes may touch one run (a test and `mesh.sh exec`), hence one
 * file per process and per link rather than one shared document.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StateError } from "./errors.ts";
import { checkPrefix, STATE_ROOT } from "./names.ts";
import type { Plan } from "./plan.ts";

export interface ProcId {
  pid: number;
  startTime: string;
}

export interface RunState {
  version: 1;
  prefix: string;
  phase: "building" | "up";
  createdAt: string;
  /** The process running `up`; a run still `building` whose builder is gone is stale. */
  builder: ProcId;
  /** A test process that owns the run (API); null for a run made by `mesh.sh up`, which persists. */
  owner: ProcId | null;
  plan: Plan;
}

export type ProcKind = "spawn" | "exec" | "delay";

export interface ProcRecord extends ProcId {
  kind: ProcKind;
  host: string;
  argv: string[];
  edge?: number;
  log?: string;
}

export interface LinkCondition {
  down?: boolean;
  lossPct?: number;
  rateMbit?: number;
  delayMs?: number;
}

export function runDir(prefix: string): string {
  return join(STATE_ROOT, checkPrefix(prefix));
}

export function logDir(prefix: string): string {
  const dir = join(runDir(prefix), "logs");
  mkdirSync(dir, { recursive: true });
  return dir;
}

function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 1)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

export function writeState(state: RunState): void {
  const dir = runDir(state.prefix);
  for (const sub of ["procs", "links", "logs"]) mkdirSync(join(dir, sub), { recursive: true });
  writeJson(join(dir, "state.json"), state);
}

/** The state of a run, or undefined when the directory or its state.json is missing or damaged. */
export function readState(prefix: string): RunState | undefined {
  const s = readJson(join(runDir(prefix), "state.json"));
  if (typeof s !== "object" || s === null) return undefined;
  const st = s as Partial<RunState>;
  if (st.version !== 1 || st.prefix !== prefix || !st.plan || !Array.isArray(st.plan.nodes)) return undefined;
  return st as RunState;
}

export function requireState(prefix: string): RunState {
  const s = readState(prefix);
  if (!s) throw new StateError(`no testnet run with prefix '${prefix}' (${runDir(prefix)})`);
  return s;
}

export function removeRunDir(prefix: string): void {
  rmSync(runDir(prefix), { recursive: true, force: true });
}

/** Prefixes with a state directory. */
export function listRuns(): string[] {
  if (!existsSync(STATE_ROOT)) return [];
  return readdirSync(STATE_ROOT).filter((n) => /^[a-z][a-z0-9]{0,7}$/.test(n));
}

/** The kernel start time of `pid` (field 22 of /proc/PID/stat), or null if it is gone. */
export function procStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** The process group of `pid`, or null if it is gone. */
export function procGroup(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const g = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    return Number.isInteger(g) ? g : null;
  } catch {
    return null;
  }
}

export function selfId(): ProcId {
  return { pid: process.pid, startTime: procStartTime(process.pid) ?? "" };
}

export function isAlive(id: ProcId): boolean {
  return procStartTime(id.pid) === id.startTime;
}

/** A run nobody is going to clean: its owner died, or its builder died before it came up. */
export function isStale(state: RunState): boolean {
  if (state.phase === "building") return !isAlive(state.builder);
  return state.owner !== null && !isAlive(state.owner);
}

export function recordProc(prefix: string, rec: ProcRecord): void {
  const dir = join(runDir(prefix), "procs");
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, `${rec.pid}.json`), rec);
}

export function forgetProc(prefix: string, pid: number): void {
  rmSync(join(runDir(prefix), "procs", `${pid}.json`), { force: true });
}

export function listProcs(prefix: string): ProcRecord[] {
  const dir = join(runDir(prefix), "procs");
  if (!existsSync(dir)) return [];
  const out: ProcRecord[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".json")) continue;
    const r = readJson(join(dir, f)) as ProcRecord | undefined;
    if (r && Number.isInteger(r.pid) && r.pid > 1 && typeof r.startTime === "string") out.push(r);
  }
  return out;
}

export function readCondition(prefix: string, edge: number): LinkCondition {
  const c = readJson(join(runDir(prefix), "links", `${edge}.json`));
  return typeof c === "object" && c !== null ? (c as LinkCondition) : {};
}

export function writeCondition(prefix: string, edge: number, cond: LinkCondition): void {
  const dir = join(runDir(prefix), "links");
  mkdirSync(dir, { recursive: true });
  if (Object.keys(cond).length === 0) rmSync(join(dir, `${edge}.json`), { force: true });
  else writeJson(join(dir, `${edge}.json`), cond);
}
