/**
 * Random topologies for the simulator (research/rl.md §4): Waxman (P = β·e^(−d/αL), α = 0.15), random
 * geometric, and Barabási–Albert (m = 3). Nodes sit in a unit square; a link's one-way latency is its
 * length × 100 ms × lognormal inflation + 1–5 ms access. Disconnected pieces are joined by their
 * nearest pair, so every topology is connected.
 */
import { gaussian, type Rng } from "../rng.ts";

export type TopologyKind = "waxman" | "geometric" | "scalefree";

export interface Topology {
  readonly n: number;
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** Undirected links: endpoints, one-way latency (ms), loss probability, capacity (packets/s). */
  readonly a: number[];
  readonly b: number[];
  readonly latencyMs: number[];
  readonly loss: number[];
  readonly capacityPps: number[];
}

export interface TopologyOptions {
  readonly kind: TopologyKind;
  readonly n: number;
  readonly meanDegree: number;
  readonly maxLoss: number;
  readonly capacityPps: number;
}

const SQUARE_MS = 100;
const WAXMAN_ALPHA = 0.15;
const BA_M = 3;

export function makeTopology(o: TopologyOptions, rng: Rng): Topology {
  const n = o.n;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = rng.next();
    y[i] = rng.next();
  }
  const pairs = new Set<number>();
  const add = (u: number, v: number) => {
    if (u === v) return;
    pairs.add(u < v ? u * n + v : v * n + u);
  };
  const dist = (u: number, v: number) => Math.hypot(x[u]! - x[v]!, y[u]! - y[v]!);

  if (o.kind === "waxman") {
    const L = Math.SQRT2;
    let e = 0;
    const samples = 20_000;
    for (let s = 0; s < samples; s++) {
      const u = Math.floor(rng.next() * n);
      const v = Math.floor(rng.next() * n);
      e += Math.exp(-dist(u, v) / (WAXMAN_ALPHA * L));
    }
    e /= samples;
    const beta = Math.min(1, o.meanDegree / ((n - 1) * e));
    for (let u = 0; u < n; u++) {
      for (let v = u + 1; v < n; v++) {
        if (rng.next() < beta * Math.exp(-dist(u, v) / (WAXMAN_ALPHA * L))) add(u, v);
      }
    }
  } else if (o.kind === "geometric") {
    const r = Math.sqrt(o.meanDegree / (Math.PI * n)) * 1.08; // edge effects
    const cells = Math.max(1, Math.floor(1 / r));
    const grid: number[][] = Array.from({ length: cells * cells }, () => []);
    const cell = (v: number) => Math.min(cells - 1, Math.floor(v * cells));
    for (let i = 0; i < n; i++) grid[cell(x[i]!) * cells + cell(y[i]!)]!.push(i);
    for (let i = 0; i < n; i++) {
      const cx = cell(x[i]!);
      const cy = cell(y[i]!);
      for (let dx = -1; dx <= 1; dx++) {
        for (let dy = -1; dy <= 1; dy++) {
          const gx = cx + dx;
          const gy = cy + dy;
          if (gx < 0 || gy < 0 || gx >= cells || gy >= cells) continue;
          for (const j of grid[gx * cells + gy]!) if (j > i && dist(i, j) <= r) add(i, j);
        }
      }
    }
  } else {
    const targets: number[] = [];
    for (let i = 0; i <= BA_M; i++) for (let j = 0; j < i; j++) add(i, j);
    for (let i = 0; i <= BA_M; i++) for (let k = 0; k < BA_M; k++) targets.push(i);
    for (let i = BA_M + 1; i < n; i++) {
      const chosen = new Set<number>();
      while (chosen.size < BA_M) chosen.add(targets[Math.floor(rng.next() * targets.length)]!);
      for (const j of chosen) {
        add(i, j);
        targets.push(i, j);
      }
    }
  }
  connect(n, pairs, dist);

  const a: number[] = [];
  const b: number[] = [];
  const latencyMs: number[] = [];
  const loss: number[] = [];
  const capacityPps: number[] = [];
  for (const key of [...pairs].sort((p, q) => p - q)) {
    const u = Math.floor(key / n);
    const v = key % n;
    a.push(u);
    b.push(v);
    const inflation = Math.exp(0.3 * gaussian(rng));
    latencyMs.push(dist(u, v) * SQUARE_MS * inflation + 1 + 4 * rng.next());
    loss.push(o.maxLoss * rng.next());
    capacityPps.push(o.capacityPps);
  }
  return { n, x, y, a, b, latencyMs, loss, capacityPps };
}

/** Joins connected components through their nearest node pairs. */
function connect(n: number, pairs: Set<number>, dist: (u: number, v: number) => number): void {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  for (const key of pairs) parent[find(Math.floor(key / n))] = find(key % n);
  for (;;) {
    const comps = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const r = find(i);
      const c = comps.get(r) ?? [];
      c.push(i);
      comps.set(r, c);
    }
    if (comps.size <= 1) return;
    const list = [...comps.values()].sort((p, q) => q.length - p.length);
    const main = list[0]!;
    for (const comp of list.slice(1)) {
      let best = [-1, -1, Number.POSITIVE_INFINITY] as [number, number, number];
      for (const u of comp) {
        for (let k = 0; k < main.length; k += Math.max(1, Math.floor(main.length / 400))) {
          const v = main[k]!;
          const d = dist(u, v);
          if (d < best[2]) best = [u, v, d];
        }
      }
      pairs.add(best[0] < best[1] ? best[0] * n + best[1] : best[1] * n + best[0]);
      parent[find(best[0])] = find(best[1]);
    }
  }
}
