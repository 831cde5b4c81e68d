/**
 * Runs the kernel-configuring tools (`ip`, `nft`, `tc`, `sysctl`). Shelling out is fine in the
 * harness (never in product code). A non-zero exit becomes a CommandError unless `check: false`.
 */
import { CommandError } from "./errors.ts";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text written to the command's stdin (e.g. an `nft -f -` script or an `ip -batch -` list). */
  stdin?: string;
  /** Throw CommandError on a non-zero exit (default true). */
  check?: boolean;
  /** Extra environment, e.g. the run marker (see procs.ts). */
  env?: Record<string, string>;
}

export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const proc = Bun.spawn(argv, {
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0 && opts.check !== false) throw new CommandError(argv, code, stderr);
  return { code, stdout, stderr };
}

/** Synchronous form, for `exit` handlers where nothing asynchronous runs any more. */
export function runSync(argv: string[], opts: RunOptions = {}): RunResult {
  const r = Bun.spawnSync(argv, {
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const result = { code: r.exitCode ?? 128, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  if (result.code !== 0 && opts.check !== false) throw new CommandError(argv, result.code, result.stderr);
  return result;
}

/** argv that runs `argv` inside network namespace `netns`. */
export function inNetns(netns: string, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", netns, ...argv];
}

/** Existing named network namespaces (`ip netns list`), names only. */
export async function listNetns(): Promise<string[]> {
  const r = await run(["ip", "netns", "list"], { check: false });
  return parseNetnsList(r.stdout);
}

export function listNetnsSync(): string[] {
  return parseNetnsList(runSync(["ip", "netns", "list"], { check: false }).stdout);
}

function parseNetnsList(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n.length > 0);
}
