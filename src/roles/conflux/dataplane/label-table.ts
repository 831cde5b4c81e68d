/**
 * Main-thread writer of the native label table: `(in slot, in path id) → (out slot, out path id)`
 * for paths that traverse this node (relayed by the RX loop, native/relay.c), or `→ LABEL_LOCAL`
 * for paths that start or end here (their cells go up to the main thread, opened).
 *
 * Buckets (u32 entry+1, linear probing, backward-shift deletion) point into a fixed array of
 * entries, so an entry never moves while it lives and the RX loop's per-entry counters (cells,
 * bytes: the native last-use signal) stay attached to it. Every change happens under one seqlock
 * (G_LABEL_SEQ, odd while writing), like the route table.
 */
import { DataplaneConfigError } from "./errors.ts";
import {
  G_LABEL_SEQ,
  G_LABEL_STRICT,
  LABEL_BUCKETS,
  LABEL_BUCKETS_OFF,
  LABEL_ENTRIES_OFF,
  LABEL_ENTRY,
  LABEL_LOCAL,
  LABEL_MAX,
  LE_BYTES,
  LE_CELLS,
  LE_IN_PID,
  LE_IN_SLOT,
  LE_OUT_PID,
  LE_OUT_SLOT,
  labelHash,
  MAX_PEERS,
} from "./layout.ts";

const TWO_32 = 2 ** 32;
const key = (slot: number, pid: number): number => slot * TWO_32 + pid;

export interface LabelUse {
  /** Cells the RX loop relayed on this label since it was installed. */
  readonly cells: number;
  readonly bytes: number;
}

export class LabelTable {
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly u64: BigUint64Array;
  /** (slot, pid) → entry index, mirrored from the shared buckets. */
  private readonly entries = new Map<number, number>();
  private readonly free: number[] = [];

  constructor(sab: SharedArrayBuffer) {
    this.u32 = new Uint32Array(sab);
    this.i32 = new Int32Array(sab);
    this.u64 = new BigUint64Array(sab);
    for (let e = LABEL_MAX - 1; e >= 0; e--) this.free.push(e);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Strict: the table holds every path of this node, so the RX loop drops DATA/KEEPALIVE cells on
   * unknown labels (counted). Not strict: it hands them up to the main thread.
   */
  setStrict(on: boolean): void {
    Atomics.store(this.u32, G_LABEL_STRICT >> 2, on ? 1 : 0);
  }

  get strict(): boolean {
    return Atomics.load(this.u32, G_LABEL_STRICT >> 2) === 1;
  }

  /**
   * Installs or changes `(inSlot, inPid) → (outSlot, outPid)`; `outSlot` LABEL_LOCAL delivers here.
   * False when the table is full (the caller then turns strict mode off).
   */
  set(inSlot: number, inPid: number, outSlot: number, outPid: number): boolean {
    checkSlot(inSlot);
    if (outSlot !== LABEL_LOCAL) checkSlot(outSlot);
    const k = key(inSlot, inPid >>> 0);
    let e = this.entries.get(k);
    const fresh = e === undefined;
    if (e === undefined) {
      if (this.free.length === 0) return false;
      e = this.free.pop()!;
    }
    const b = LABEL_ENTRIES_OFF + e * LABEL_ENTRY;
    this.write(() => {
      if (fresh) {
        Atomics.store(this.u32, (b + LE_IN_SLOT) >> 2, inSlot);
        Atomics.store(this.u32, (b + LE_IN_PID) >> 2, inPid >>> 0);
        Atomics.store(this.u64, (b + LE_CELLS) >> 3, 0n);
        Atomics.store(this.u64, (b + LE_BYTES) >> 3, 0n);
      }
      Atomics.store(this.u32, (b + LE_OUT_SLOT) >> 2, outSlot >>> 0);
      Atomics.store(this.u32, (b + LE_OUT_PID) >> 2, outPid >>> 0);
      if (fresh) this.insertBucket(inSlot, inPid >>> 0, e);
    });
    this.entries.set(k, e);
    return true;
  }

  /** Removes the label; false when it was not there. */
  delete(inSlot: number, inPid: number): boolean {
    const k = key(inSlot, inPid >>> 0);
    const e = this.entries.get(k);
    if (e === undefined) return false;
    this.write(() => this.removeBucket(inSlot, inPid >>> 0, e));
    this.entries.delete(k);
    this.free.push(e);
    return true;
  }

  /** The label's destination, or null: `{ outSlot, outPid }` (outSlot LABEL_LOCAL = here). */
  get(inSlot: number, inPid: number): { outSlot: number; outPid: number } | null {
    const e = this.entries.get(key(inSlot, inPid >>> 0));
    if (e === undefined) return null;
    const b = LABEL_ENTRIES_OFF + e * LABEL_ENTRY;
    return {
      outSlot: Atomics.load(this.u32, (b + LE_OUT_SLOT) >> 2),
      outPid: Atomics.load(this.u32, (b + LE_OUT_PID) >> 2),
    };
  }

  /** What the RX loop relayed on this label (its last-use signal), or null when absent. */
  use(inSlot: number, inPid: number): LabelUse | null {
    const e = this.entries.get(key(inSlot, inPid >>> 0));
    if (e === undefined) return null;
    const b = LABEL_ENTRIES_OFF + e * LABEL_ENTRY;
    return {
      cells: Number(Atomics.load(this.u64, (b + LE_CELLS) >> 3)),
      bytes: Number(Atomics.load(this.u64, (b + LE_BYTES) >> 3)),
    };
  }

  private write(change: () => void): void {
    Atomics.add(this.i32, G_LABEL_SEQ >> 2, 1);
    try {
      change();
    } finally {
      Atomics.add(this.i32, G_LABEL_SEQ >> 2, 1);
    }
  }

  private bucket(i: number): number {
    return (LABEL_BUCKETS_OFF >> 2) + (i & (LABEL_BUCKETS - 1));
  }

  private insertBucket(slot: number, pid: number, e: number): void {
    let i = labelHash(slot, pid);
    while (Atomics.load(this.u32, this.bucket(i)) !== 0) i++;
    Atomics.store(this.u32, this.bucket(i), e + 1);
  }

  private entryKey(e: number): { slot: number; pid: number } {
    const b = LABEL_ENTRIES_OFF + e * LABEL_ENTRY;
    return {
      slot: Atomics.load(this.u32, (b + LE_IN_SLOT) >> 2),
      pid: Atomics.load(this.u32, (b + LE_IN_PID) >> 2),
    };
  }

  private removeBucket(slot: number, pid: number, e: number): void {
    let i = labelHash(slot, pid);
    for (let n = 0; ; n++, i++) {
      if (n === LABEL_BUCKETS) return;
      const ref = Atomics.load(this.u32, this.bucket(i));
      if (ref === 0) return;
      if (ref === e + 1) break;
    }
    let hole = i;
    for (let j = i + 1; ; j++) {
      const ref = Atomics.load(this.u32, this.bucket(j));
      if (ref === 0) break;
      const k = this.entryKey(ref - 1);
      const home = labelHash(k.slot, k.pid);
      const dist = (x: number) => (x - home) & (LABEL_BUCKETS - 1);
      if (dist(hole) < dist(j)) {
        Atomics.store(this.u32, this.bucket(hole), ref);
        hole = j;
      }
    }
    Atomics.store(this.u32, this.bucket(hole), 0);
  }
}

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_PEERS) {
    throw new DataplaneConfigError("DP_BAD_SLOT", `label slot must be 0..${MAX_PEERS - 1}, got ${slot}`);
  }
}
