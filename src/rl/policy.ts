/**
 * The decisions: which path to probe (discounted lower confidence bound), when data moves to another
 * path (hysteresis, minimum dwell), which path is the hot standby (node-disjoint first) and where to
 * fail over. Pure functions over one destination's rows; the agent applies them.
 */
import type { AgentParams } from "./constants.ts";
import { type DestState, overlap, type PathRow } from "./path-row.ts";
import type { Rng } from "./rng.ts";

/** Optimistic bound on cost: μ − β·s·√(ln N / n). An unsampled row is −∞ (probe it first). */
export function lowerBound(r: PathRow, totalN: number, now: number, p: AgentParams): number {
  const n = r.est.weightAt(now, p.discountHalfLifeMs);
  if (n <= 1e-6) return Number.NEGATIVE_INFINITY;
  return r.cost() - p.lcbBeta * r.est.sd() * Math.sqrt(Math.log(Math.max(Math.E, totalN)) / n);
}

/** Pessimistic bound on cost: μ + β·s/√n. */
export function upperBound(r: PathRow, now: number, p: AgentParams): number {
  const n = r.est.weightAt(now, p.discountHalfLifeMs);
  if (n <= 1e-6) return Number.POSITIVE_INFINITY;
  return r.cost() + (p.lcbBeta * r.est.sd()) / Math.sqrt(n);
}

/**
 * The pessimistic bound on a challenger's cost that must beat the active path's: μ + β·s/√n with s
 * at least the active path's spread. A challenger's few probes say little about how noisy the
 * network is, the active path's many samples say a lot: on a busy host four probes that happened to
 * agree made a 40 ms slower path look proven better than one whose acks showed the real spread.
 */
export function proofBound(r: PathRow, a: PathRow, now: number, p: AgentParams): number {
  const n = r.est.weightAt(now, p.discountHalfLifeMs);
  if (n <= 1e-6) return Number.POSITIVE_INFINITY;
  return r.cost() + (p.lcbBeta * Math.max(r.est.sd(), a.est.sd())) / Math.sqrt(n);
}

/** The challenger to probe next: the lowest lower bound among rows that are not active or standby. */
export function pickChallenger(ds: DestState, now: number, rng: Rng, p: AgentParams): PathRow | null {
  const pool = ds.paths.filter(
    (r) => r !== ds.active && r !== ds.standby && r.state !== "suspect" && !r.probeInFlight,
  );
  if (pool.length === 0) return null;
  if (rng.next() < p.randomProbeShare) return pool[Math.floor(rng.next() * pool.length)] ?? null;
  const totalN = ds.totalWeight(now, p.discountHalfLifeMs);
  let best: PathRow | null = null;
  let bestLb = Number.POSITIVE_INFINITY;
  for (const r of pool) {
    const lb = lowerBound(r, totalN, now, p);
    if (lb < bestLb) {
      bestLb = lb;
      best = r;
    }
  }
  return best;
}

/** A row that data should move to now, or null. Assumes the active path is healthy. */
export function pickBetter(ds: DestState, now: number, p: AgentParams): PathRow | null {
  const a = ds.active;
  if (!a) return null;
  const aCost = a.cost();
  if (!p.hysteresis) {
    let best: PathRow = a;
    for (const r of ds.paths) if (r.healthy() && r.cost() < best.cost()) best = r;
    return best === a ? null : best;
  }
  // the dwell protects a choice made by comparing paths; the first path to answer was no such choice
  if (ds.activeChosen && now - ds.activeSince < p.minDwellMs) return null;
  // the active path is judged on as many samples as a challenger (mayChallenge): a build's RTT holds
  // every hop's key exchange, and one ack on a busy host a stall; a restarted node that took its
  // stored best path left it again for a worse one over such a figure
  if (a.provisional || a.est.weightAt(now, p.discountHalfLifeMs) < p.minSamples - 0.5) return null;
  let best: PathRow | null = null;
  let bestUb = (1 - p.switchMargin) * aCost;
  for (const r of ds.paths) {
    if (!mayChallenge(r, a, now, p)) continue;
    const ub = proofBound(r, a, now, p);
    if (ub < bestUb) {
      bestUb = ub;
      best = r;
    }
  }
  return best;
}

/**
 * A bound below every proofBound pickBetter compares, that stays one while no row but the active
 * path changes: time only lowers a row's n (raising its bound), and the active path's spread only
 * ever raises one. While it is at least (1 − switchMargin) × the active path's cost, pickBetter finds
 * nothing, so it need not look (route-book.ts; the per-tick scan of every row was a tenth of a
 * 5,000-node simulation).
 */
export function challengerFloor(ds: DestState, now: number, p: AgentParams): number {
  const a = ds.active;
  let floor = Number.POSITIVE_INFINITY;
  if (!a) return floor;
  for (const r of ds.paths) {
    if (!mayChallenge(r, a, now, p)) continue;
    const n = r.est.weightAt(now, p.discountHalfLifeMs);
    floor = Math.min(floor, r.cost() + (p.lcbBeta * r.est.sd()) / Math.sqrt(n));
  }
  return floor;
}

/**
 * Whether pickBetter may move data from the active path `a` to `r`: healthy, sampled enough, and
 * (a path whose burst is unmeasured is not cheaper than one whose burst is known) its burst measured
 * if the active path's is.
 */
function mayChallenge(r: PathRow, a: PathRow, now: number, p: AgentParams): boolean {
  if (r === a || !r.healthy()) return false;
  if (r.est.weightAt(now, p.discountHalfLifeMs) < p.minSamples - 0.5) return false;
  return !(a.burst.nEff > 0 && r.burst.nEff === 0);
}

/** The best healthy non-active row, node-disjoint from the active one if any such row exists. */
export function pickStandby(ds: DestState): PathRow | null {
  const a = ds.active;
  let best: PathRow | null = null;
  let bestKey = Number.POSITIVE_INFINITY;
  for (const r of ds.paths) {
    if (r === a || !r.healthy()) continue;
    const shared = a ? overlap(a, r) + (a.hops[0] === r.hops[0] && r.hops.length > 1 ? 1 : 0) : 0;
    const key = shared * 1e9 + r.cost();
    if (key < bestKey) {
      bestKey = key;
      best = r;
    }
  }
  return best;
}

/** Where data goes when the active path fails: the standby if healthy, else the cheapest healthy row. */
export function pickFailover(ds: DestState): PathRow | null {
  if (ds.standby && ds.standby !== ds.active && ds.standby.healthy()) return ds.standby;
  let best: PathRow | null = null;
  for (const r of ds.paths) {
    if (r === ds.active || !r.healthy()) continue;
    if (!best || r.cost() < best.cost()) best = r;
  }
  return best;
}

/** True if the standby shares a relay (or its first hop) with the active path. */
export function standbyShared(ds: DestState): boolean {
  const a = ds.active;
  const s = ds.standby;
  if (!a || !s) return false;
  return overlap(a, s) > 0 || (a.hops[0] === s.hops[0] && s.hops.length > 1 && a.hops.length > 1);
}

/**
 * The undecided challenger: its lower bound says it may beat the active path by the switch margin,
 * its upper bound does not yet prove it. Probing it quickly settles the question (LUCB-style), so a
 * better path found by a build is confirmed in seconds rather than in challenger rounds.
 */
export function pickDuel(ds: DestState, now: number, p: AgentParams): PathRow | null {
  const a = ds.active;
  if (!a?.healthy()) return null;
  const bar = (1 - p.switchMargin) * a.cost();
  const totalN = ds.totalWeight(now, p.discountHalfLifeMs);
  let best: PathRow | null = null;
  let bestLb = bar;
  for (const r of ds.paths) {
    if (r === a || !r.healthy()) continue;
    const lb = lowerBound(r, totalN, now, p);
    if (lb < bestLb && proofBound(r, a, now, p) >= bar) {
      bestLb = lb;
      best = r;
    }
  }
  return best;
}
