/**
 * The receive half of a userspace TCP connection: in-order delivery, an out-of-order queue inside
 * the advertised window, SACK blocks (RFC 2018: the most recent block first), the FIN position,
 * and flow control. Offsets are relative to the peer's initial sequence number (its SYN is 0), so
 * they never wrap; the wire's 32-bit numbers are converted at the edge.
 *
 * Flow control: the window is `capacity − queued`, where `queued` is data delivered in order but
 * not yet taken by the application (paused reader). Out-of-order data lies inside the window, so
 * held bytes never exceed the capacity, and the right edge never moves left.
 */
import { MAX_SACK_BLOCKS } from "./tcp-wire.ts";

interface OooBlock {
  start: number;
  end: number;
  data: Uint8Array;
}

export const Accept = {
  /** New in-order bytes were delivered. */
  InOrder: 1,
  /** Bytes were queued above a hole (ACK at once, with SACK). */
  OutOfOrder: 2,
  /** Nothing new (old or duplicate data: ACK at once). */
  Duplicate: 4,
  /** The in-order point reached the peer's FIN. */
  Fin: 8,
  /** A hole was filled: ACK at once so the sender leaves recovery quickly. */
  HoleFilled: 16,
} as const;

export class TcpReceiver {
  /** Next expected offset. */
  nxt = 1;
  irs = 0;
  queued = 0;
  oooBytes = 0;
  /** Offset of the peer's FIN once seen, else -1. */
  finOff = -1;
  finReceived = false;
  paused = false;
  readonly #queue: Uint8Array[] = [];
  #ooo: OooBlock[] = [];
  #lastOooStart = -1;
  handler: ((chunk: Uint8Array) => void) | null = null;

  constructor(readonly capacity: number) {}

  /** Offset of a wire sequence number, taken as the nearest one to `nxt`. */
  offsetOf(seq: number): number {
    return this.nxt + ((seq - ((this.irs + this.nxt) >>> 0)) | 0);
  }

  wire(off: number): number {
    return (this.irs + off) >>> 0;
  }

  window(): number {
    return Math.max(0, this.capacity - this.queued);
  }

  /** Takes a segment's payload at offset `off` (a view: copied when kept) and, when set, its FIN. */
  accept(off: number, data: Uint8Array, fin: boolean): number {
    let flags = 0;
    const right = this.nxt + this.window();
    let start = off;
    let end = off + data.length;
    if (fin && this.finOff < 0 && end <= right) this.finOff = end;
    if (end > right) end = right;
    if (start < this.nxt) start = this.nxt;
    if (end <= start) {
      if (this.#reachFin()) flags |= Accept.Fin;
      return flags | (data.length > 0 || fin ? Accept.Duplicate : 0);
    }
    const bytes = data.subarray(start - off, end - off);
    if (start === this.nxt) {
      const hadHoles = this.#ooo.length > 0;
      this.#deliver(bytes.slice());
      this.nxt = end;
      this.#drainOoo();
      flags |= Accept.InOrder | (hadHoles ? Accept.HoleFilled : 0);
    } else {
      flags |= this.#insertOoo(start, end, bytes) ? Accept.OutOfOrder : Accept.Duplicate;
    }
    if (this.#reachFin()) flags |= Accept.Fin;
    return flags;
  }

  #reachFin(): boolean {
    if (this.finReceived || this.finOff < 0 || this.nxt !== this.finOff) return false;
    this.finReceived = true;
    this.nxt++;
    return true;
  }

  #deliver(chunk: Uint8Array): void {
    const h = this.handler;
    if (!this.paused && h && this.#queue.length === 0) {
      h(chunk);
      return;
    }
    this.#queue.push(chunk);
    this.queued += chunk.length;
  }

  /** Hands queued data to the handler until paused again; returns the bytes handed over. */
  flush(): number {
    let n = 0;
    const h = this.handler;
    while (!this.paused && h && this.#queue.length > 0) {
      const chunk = this.#queue.shift()!;
      this.queued -= chunk.length;
      n += chunk.length;
      h(chunk);
    }
    return n;
  }

  #insertOoo(start: number, end: number, bytes: Uint8Array): boolean {
    const list = this.#ooo;
    let s = start;
    let e = end;
    let i = 0;
    while (i < list.length && list[i]!.end <= s) i++;
    // Blocks entirely covered by the new one are replaced.
    while (i < list.length && list[i]!.start >= s && list[i]!.end <= e) {
      this.oooBytes -= list[i]!.end - list[i]!.start;
      list.splice(i, 1);
    }
    const prev = i > 0 ? list[i - 1] : undefined;
    if (prev && prev.end > s) s = prev.end;
    const next = list[i];
    if (next && next.start < e) {
      if (next.start <= s) return false; // already held
      e = next.start;
    }
    if (e <= s) return false;
    list.splice(i, 0, { start: s, end: e, data: bytes.slice(s - start, e - start) });
    this.oooBytes += e - s;
    this.#lastOooStart = s;
    return true;
  }

  #drainOoo(): void {
    const list = this.#ooo;
    while (list.length > 0 && list[0]!.start <= this.nxt) {
      const b = list.shift()!;
      this.oooBytes -= b.end - b.start;
      if (b.end <= this.nxt) continue;
      this.#deliver(b.data.subarray(this.nxt - b.start));
      this.nxt = b.end;
    }
  }

  /** Writes up to MAX_SACK_BLOCKS wire-seq pairs into `out`; returns the count. */
  sackBlocks(out: Uint32Array): number {
    const list = this.#ooo;
    if (list.length === 0) return 0;
    // Merge touching blocks into ranges.
    const ranges: number[] = [];
    for (const b of list) {
      const n = ranges.length;
      if (n > 0 && ranges[n - 1] === b.start) ranges[n - 1] = b.end;
      else ranges.push(b.start, b.end);
    }
    let count = 0;
    const recent = ranges.findIndex(
      (_, k) => k % 2 === 0 && ranges[k]! <= this.#lastOooStart && this.#lastOooStart < ranges[k + 1]!,
    );
    const order: number[] = [];
    if (recent >= 0) order.push(recent);
    for (let k = ranges.length - 2; k >= 0; k -= 2) if (k !== recent) order.push(k);
    for (const k of order) {
      if (count === MAX_SACK_BLOCKS) break;
      out[2 * count] = this.wire(ranges[k]!);
      out[2 * count + 1] = this.wire(ranges[k + 1]!);
      count++;
    }
    return count;
  }

  /** Drops everything held (reset). */
  clear(): void {
    this.#queue.length = 0;
    this.#ooo = [];
    this.queued = 0;
    this.oooBytes = 0;
  }
}
