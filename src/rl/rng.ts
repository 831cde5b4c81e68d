/**
 * A small seeded PRNG (sfc32, Chris Doty-Humphrey's "Small Fast Chaotic" generator) so that the
 * agent and the simulator are deterministic for a seed. Not for cryptography.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
}

export class Sfc32 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  next(): number {
    let { a, b, c, d } = this;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
    return (t >>> 0) / 4294967296;
  }
}

/** Integer in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng.next() * n);
}

/** Multiplies `x` by a uniform factor in [1 - f, 1 + f] (timer jitter against synchronisation). */
export function jitter(rng: Rng, x: number, f: number): number {
  return x * (1 - f + 2 * f * rng.next());
}

/** Standard normal (Box-Muller). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Derives an independent seed from a seed and a label (FNV-1a over both). */
export function subSeed(seed: number, label: string | number): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  const s = String(label);
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
