/**
 * A fixed-capacity byte ring addressed by absolute stream offsets: the TCP send buffer. Bytes
 * [start, end) are held; `append` copies in as much as fits, `copyOut` reads any held range
 * (for first transmissions and retransmissions alike), `release` forgets acknowledged bytes.
 */
export class ByteRing {
  readonly #buf: Uint8Array;
  /** Absolute offset of the first held byte. */
  start = 0;
  /** Absolute offset one past the last held byte. */
  end = 0;

  constructor(readonly capacity: number) {
    this.#buf = new Uint8Array(capacity);
  }

  get free(): number {
    return this.capacity - (this.end - this.start);
  }

  get held(): number {
    return this.end - this.start;
  }

  /** Copies up to `free` bytes of `src[from…]`; returns how many. */
  append(src: Uint8Array, from = 0): number {
    const n = Math.min(this.free, src.length - from);
    if (n <= 0) return 0;
    const cap = this.capacity;
    const at = this.end % cap;
    const first = Math.min(n, cap - at);
    this.#buf.set(src.subarray(from, from + first), at);
    if (first < n) this.#buf.set(src.subarray(from + first, from + n), 0);
    this.end += n;
    return n;
  }

  /** Copies held bytes [abs, abs+len) to `dst[dstOff…]`. The caller keeps the range inside [start, end). */
  copyOut(abs: number, len: number, dst: Uint8Array, dstOff: number): void {
    const cap = this.capacity;
    const at = abs % cap;
    const first = Math.min(len, cap - at);
    dst.set(this.#buf.subarray(at, at + first), dstOff);
    if (first < len) dst.set(this.#buf.subarray(0, len - first), dstOff + first);
  }

  /** Forgets every byte before `abs`. */
  release(abs: number): void {
    if (abs > this.start) this.start = Math.min(abs, this.end);
  }
}
