/**
 * Folder-private byte helpers for the handshake-plane codecs: a bounds-checked little-endian reader
 * that throws the caller's typed error, a writer over a preallocated buffer, and comparisons.
 * Integers on the wire are little-endian; u64 values are kept below 2^53 so they fit a number.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AnchorError } from "./errors.ts";

export type ErrorFactory = (code: string, message: string) => AnchorError;

export const MAX_SAFE_U64 = Number.MAX_SAFE_INTEGER;

/** Reads fields in order; every read is bounds-checked and throws `fail(...)` past the end. */
export class Reader {
  offset = 0;
  readonly #view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly fail: ErrorFactory,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get remaining(): number {
    return this.bytes.length - this.offset;
  }
  #need(n: number, what: string): void {
    if (n > this.remaining) throw this.fail("TRUNCATED", `truncated ${what}`);
  }
  u8(what: string): number {
    this.#need(1, what);
    return this.bytes[this.offset++] as number;
  }
  u16(what: string): number {
    this.#need(2, what);
    const v = this.#view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }
  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  /** u64 as a number; values ≥ 2^53 are rejected as out of range. */
  u64(what: string): number {
    this.#need(8, what);
    const lo = this.#view.getUint32(this.offset, true);
    const hi = this.#view.getUint32(this.offset + 4, true);
    this.offset += 8;
    if (hi >= 0x200000) throw this.fail("RANGE", `${what} out of range`);
    return hi * 2 ** 32 + lo;
  }
  /** A view into the input (borrowed, not copied). */
  bytesView(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  /** A copy, for values that outlive the input buffer. */
  bytesCopy(n: number, what: string): Uint8Array {
    return Uint8Array.from(this.bytesView(n, what));
  }
  end(what: string): void {
    if (this.remaining !== 0) throw this.fail("TRAILING", `trailing bytes after ${what}`);
  }
}

/** Writes fields in order into a buffer of the exact final size. */
export class Writer {
  offset = 0;
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }
  u8(v: number): this {
    this.bytes[this.offset++] = v;
    return this;
  }
  u16(v: number): this {
    this.#view.setUint16(this.offset, v, true);
    this.offset += 2;
    return this;
  }
  u32(v: number): this {
    this.#view.setUint32(this.offset, v >>> 0, true);
    this.offset += 4;
    return this;
  }
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError("u64 must be a safe non-negative integer");
    this.#view.setUint32(this.offset, v % 2 ** 32, true);
    this.#view.setUint32(this.offset + 4, Math.floor(v / 2 ** 32), true);
    this.offset += 8;
    return this;
  }
  put(b: Uint8Array): this {
    this.bytes.set(b, this.offset);
    this.offset += b.length;
    return this;
  }
  done(): Uint8Array {
    if (this.offset !== this.bytes.length) throw new RangeError("writer size mismatch");
    return this.bytes;
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Constant-time equality for equal lengths; different lengths compare unequal. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i] as number;
  return acc === 0;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export const utf8 = new TextEncoder();

export function u32le(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0, true);
  return out;
}

/** SHA-256 over the concatenation of `parts`, through node:crypto (about 5x faster than pure JS here). */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}
