/** Staleness decay of persisted rows (research/rl.md §3 "Persistence"): old knowledge is uncertain. */
import { STORE_DECAY_HALF_LIFE_MS, STORE_MAX_AGE_MS, STORE_VARIANCE_GROWTH } from "./constants.ts";
import type { LinkRow, RouteRow } from "./types.ts";

/** n_eff ← n_eff·2^(−age/half-life), variance += κ·μ²·age/half-life; null if older than the limit. */
export function ageRoute(r: RouteRow, now: number): RouteRow | null {
  const age = Math.max(0, now - r.lastMs);
  if (age > STORE_MAX_AGE_MS) return null;
  const h = age / STORE_DECAY_HALF_LIFE_MS;
  return { ...r, nEff: r.nEff * 2 ** -h, variance: r.variance + STORE_VARIANCE_GROWTH * r.mu * r.mu * h };
}

export function ageLink(r: LinkRow, now: number): LinkRow | null {
  const age = Math.max(0, now - r.lastMs);
  if (age > STORE_MAX_AGE_MS) return null;
  const h = age / STORE_DECAY_HALF_LIFE_MS;
  return { ...r, nEff: r.nEff * 2 ** -h, rttvar: r.rttvar + STORE_VARIANCE_GROWTH * r.srtt * r.srtt * h };
}
