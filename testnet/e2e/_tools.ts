/** Measurement tools for the end-to-end tests: nftables counters, timed pings, counter deltas. */
import type { Mesh, MeshProcess } from "../mesh.ts";

export const FIXTURES = `${import.meta.dir}/fixtures`;
export const BUN = process.execPath;

/** nftables table the tests add inside a run's namespace to count packets (the namespace is the run's own). */
export const COUNT_TABLE = "e2ecount";

/**
 * Adds counting rules in `host`'s namespace: UDP and TCP packets on the input, forward and output
 * hooks (before any other table sees them). Read them back with {@link readCounters}.
 */
export async function installCounters(mesh: Mesh, host: string): Promise<void> {
  const hooks = ["input", "forward", "output"];
  const script = [
    `add table inet ${COUNT_TABLE}`,
    ...hooks.flatMap((h) => [
      `add chain inet ${COUNT_TABLE} ${h} { type filter hook ${h} priority -400; policy accept; }`,
      `add rule inet ${COUNT_TABLE} ${h} meta l4proto udp counter comment "udp"`,
      `add rule inet ${COUNT_TABLE} ${h} meta l4proto tcp counter comment "tcp"`,
    ]),
  ].join("\n");
  const r = await mesh.exec(host, ["nft", "-f", "-"], { stdin: `${script}\n` });
  if (r.code !== 0) throw new Error(`nft on ${host}: ${r.stderr}`);
}

export type Counts = Record<string, { packets: number; bytes: number }>;

/** Counters by "<hook>.<udp|tcp>" from {@link installCounters}. */
export async function readCounters(mesh: Mesh, host: string): Promise<Counts> {
  const r = await mesh.exec(host, ["nft", "-j", "list", "table", "inet", COUNT_TABLE]);
  if (r.code !== 0) throw new Error(`nft list on ${host}: ${r.stderr}`);
  const out: Counts = {};
  const items = (JSON.parse(r.stdout) as { nftables: Record<string, unknown>[] }).nftables;
  for (const item of items) {
    const rule = item.rule as
      | { chain: string; comment?: string; expr: Record<string, unknown>[] }
      | undefined;
    if (!rule?.comment) continue;
    const counter = rule.expr.find((e) => "counter" in e)?.counter as { packets: number; bytes: number };
    out[`${rule.chain}.${rule.comment}`] = { packets: counter.packets, bytes: counter.bytes };
  }
  return out;
}

/** Differences of numeric fields (after − before), only those that changed. */
export function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    if (typeof v !== "number") continue;
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/**
 * A continuous ping (`-D`: each reply line carries its wall-clock time) whose replies are
 * collected as they arrive. `stop()` ends it and returns the reply times (epoch ms).
 */
export class PingWatch {
  readonly replies: number[] = [];
  readonly #proc: MeshProcess;
  readonly #done: Promise<void>;
  #waiters: (() => void)[] = [];
  #stopped: Promise<number[]> | undefined;

  constructor(mesh: Mesh, from: string, to: string, intervalS = 0.05) {
    this.#proc = mesh.spawn(from, ["ping", "-D", "-n", "-i", String(intervalS), "-W", "1", to]);
    this.#done = this.#read();
  }

  async #read(): Promise<void> {
    const stream = this.#proc.stdout;
    if (!stream) return;
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      let nl = text.indexOf("\n");
      while (nl >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        const m = /^\[(\d+\.\d+)\] \d+ bytes from/.exec(line);
        if (m) {
          this.replies.push(Number(m[1]) * 1000);
          for (const w of this.#waiters) w();
          this.#waiters = [];
        }
        nl = text.indexOf("\n");
      }
    }
  }

  /** Resolves with the time of the first reply at or after `since` (epoch ms), or undefined on time-out. */
  async firstReplyAfter(since: number, timeoutMs: number): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.replies.find((t) => t >= since);
      if (hit !== undefined) return hit;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), Bun.sleep(Math.min(left, 200))]);
    }
  }

  lastReply(): number | undefined {
    return this.replies.at(-1);
  }

  /** Ends the ping (idempotent) and returns every reply time. */
  stop(): Promise<number[]> {
    this.#stopped ??= (async () => {
      await this.#proc.stop(500);
      await this.#done;
      return this.replies;
    })();
    return this.#stopped;
  }
}

/**
 * Remembers whether any guarded step failed, so the teardown can keep the logs of a failed run:
 * `const run = new FailureGuard();` … `test(name, run.guard(async () => …))` … `destroy(d, run.failed)`.
 */
export class FailureGuard {
  failed = false;

  guard<T>(fn: () => Promise<T>): () => Promise<T> {
    return async () => {
      try {
        return await fn();
      } catch (err) {
        this.failed = true;
        throw err;
      }
    };
  }
}
