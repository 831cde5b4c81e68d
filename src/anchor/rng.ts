/**
 * Injectable randomness. Production code uses the operating system's CSPRNG; test vectors and
 * reproducible fuzz runs use `seededRng`, a deterministic SHA-256 counter-mode stream that must
 * never be used for real keys.
 */
import { randomBytes } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";

/** Returns `length` fresh random bytes (a new array the caller owns). */
export type Rng = (length: number) => Uint8Array;

export const systemRng: Rng = (length) => new Uint8Array(randomBytes(length));

/** Deterministic stream: block i = SHA-256(seed || u32 i). For vectors and tests only. */
export function seededRng(seed: string | Uint8Array): Rng {
  const key = typeof seed === "string" ? new TextEncoder().encode(seed) : Uint8Array.from(seed);
  let counter = 0;
  let pool = new Uint8Array(0);
  let used = 0;
  return (length) => {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (used === pool.length) {
        const block = new Uint8Array(key.length + 4);
        block.set(key);
        new DataView(block.buffer).setUint32(key.length, counter++, true);
        pool = sha256(block);
        used = 0;
      }
      const take = Math.min(length - filled, pool.length - used);
      out.set(pool.subarray(used, used + take), filled);
      used += take;
      filled += take;
    }
    return out;
  };
}

/** A random u32 that is not zero (zero is reserved to mean "no index"). */
export function randomIndex(rng: Rng): number {
  for (;;) {
    const b = rng(4);
    const v = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
    if (v !== 0) return v;
  }
}
