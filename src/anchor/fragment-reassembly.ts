/**
 * Bounded reassembly of handshake fragments. Memory is charged per fragment actually received
 * (plus a fixed per-assembly overhead), capped per source and globally; the oldest assembly is
 * evicted first, and assemblies older than the timeout are dropped. A repeated fragment index keeps
 * the first copy (an identical repeat is a duplicate, a different one a conflict); a fragment whose
 * count/total disagree with the assembly it names is a conflict and is dropped.
 * Never throws: outcomes are counted in `stats`.
 */
import type { Fragment } from "./fragment.ts";

/* Implementation constants */
export const ASSEMBLY_OVERHEAD_BYTES = 256;
export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = Object.freeze({
  maxBytesPerSource: 64 * 1024,
  maxAssembliesPerSource: 4,
  maxBytesTotal: 4 * 1024 * 1024,
  timeoutMs: 3000,
});

export interface ReassemblyLimits {
  readonly maxBytesPerSource: number;
  readonly maxAssembliesPerSource: number;
  readonly maxBytesTotal: number;
  readonly timeoutMs: number;
}

export interface ReassemblyStats {
  completed: number;
  duplicates: number;
  conflicts: number;
  evicted: number;
  expired: number;
}

interface Assembly {
  readonly key: string;
  readonly source: string;
  readonly count: number;
  readonly total: number;
  readonly created: number;
  readonly chunks: (Uint8Array | undefined)[];
  have: number;
  bytes: number;
}

interface SourceUsage {
  bytes: number;
  assemblies: number;
}

export class Reassembler {
  readonly stats: ReassemblyStats = { completed: 0, duplicates: 0, conflicts: 0, evicted: 0, expired: 0 };
  readonly #assemblies = new Map<string, Assembly>(); // insertion order = creation order
  readonly #sources = new Map<string, SourceUsage>();
  #bytes = 0;

  constructor(readonly limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS) {}

  /** Adds one verified fragment; returns the whole message when it is complete. `chunk` is copied. */
  add(source: string, f: Fragment, now: number): Uint8Array | undefined {
    this.expire(now);
    const key = `${f.type}|${f.handshakeId}|${source}`;
    let a = this.#assemblies.get(key);
    if (a !== undefined && (a.count !== f.count || a.total !== f.total)) {
      this.stats.conflicts++;
      return undefined;
    }
    if (a?.chunks[f.index] !== undefined) {
      if (equal(a.chunks[f.index] as Uint8Array, f.chunk)) this.stats.duplicates++;
      else this.stats.conflicts++;
      return undefined;
    }
    if (f.count === 1) {
      this.stats.completed++;
      return Uint8Array.from(f.chunk);
    }
    const cost = f.chunk.length + (a === undefined ? ASSEMBLY_OVERHEAD_BYTES : 0);
    if (!this.#makeRoom(source, cost, a === undefined, a)) return undefined;
    if (a === undefined) {
      a = {
        key,
        source,
        count: f.count,
        total: f.total,
        created: now,
        chunks: new Array(f.count),
        have: 0,
        bytes: ASSEMBLY_OVERHEAD_BYTES,
      };
      this.#assemblies.set(key, a);
      const u = this.#usage(source);
      u.assemblies++;
      u.bytes += ASSEMBLY_OVERHEAD_BYTES;
      this.#bytes += ASSEMBLY_OVERHEAD_BYTES;
    }
    a.chunks[f.index] = Uint8Array.from(f.chunk);
    a.have++;
    a.bytes += f.chunk.length;
    this.#usage(source).bytes += f.chunk.length;
    this.#bytes += f.chunk.length;
    if (a.have < a.count) return undefined;
    const message = new Uint8Array(a.total);
    let o = 0;
    for (const c of a.chunks) {
      message.set(c as Uint8Array, o);
      o += (c as Uint8Array).length;
    }
    this.#remove(a);
    this.stats.completed++;
    return message;
  }

  /** Drops assemblies older than the timeout (oldest first, so this is amortised O(1)). */
  expire(now: number): void {
    for (const a of this.#assemblies.values()) {
      if (now - a.created < this.limits.timeoutMs) break;
      this.#remove(a);
      this.stats.expired++;
    }
  }

  /** Bytes currently charged (received chunks plus per-assembly overhead). */
  get bytes(): number {
    return this.#bytes;
  }
  get assemblies(): number {
    return this.#assemblies.size;
  }
  get sources(): number {
    return this.#sources.size;
  }

  #makeRoom(source: string, cost: number, isNew: boolean, keep: Assembly | undefined): boolean {
    if (cost > this.limits.maxBytesPerSource || cost > this.limits.maxBytesTotal) return false;
    const mine = () => this.#sources.get(source) ?? { bytes: 0, assemblies: 0 };
    while (
      mine().bytes + cost > this.limits.maxBytesPerSource ||
      (isNew && mine().assemblies + 1 > this.limits.maxAssembliesPerSource)
    ) {
      const victim = this.#oldest((a) => a.source === source && a !== keep);
      if (victim === undefined) return false;
      this.#remove(victim);
      this.stats.evicted++;
    }
    while (this.#bytes + cost > this.limits.maxBytesTotal) {
      const victim = this.#oldest((a) => a !== keep);
      if (victim === undefined) return false;
      this.#remove(victim);
      this.stats.evicted++;
    }
    return true;
  }

  #oldest(pred: (a: Assembly) => boolean): Assembly | undefined {
    for (const a of this.#assemblies.values()) if (pred(a)) return a;
    return undefined;
  }

  #usage(source: string): SourceUsage {
    let u = this.#sources.get(source);
    if (u === undefined) {
      u = { bytes: 0, assemblies: 0 };
      this.#sources.set(source, u);
    }
    return u;
  }

  #remove(a: Assembly): void {
    this.#assemblies.delete(a.key);
    this.#bytes -= a.bytes;
    const u = this.#sources.get(a.source);
    if (u !== undefined) {
      u.bytes -= a.bytes;
      u.assemblies--;
      if (u.assemblies === 0) this.#sources.delete(a.source);
    }
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
