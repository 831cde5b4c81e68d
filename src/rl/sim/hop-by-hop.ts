/**
 * The alternative design, for comparison: every hop picks the next hop itself (the reference
 * product's Exp3). Modelled in its best case: each hop's Exp3 weights have converged onto the same
 * claims the source-routed agent uses (its distance table), and it keeps the γ share of uniform
 * exploration Exp3 needs against a changing world. No source measurement, no end-to-end failover: a
 * hop stops using a dead link only when its link session notices (linkDetectMs). Packets that loop
 * run into the TTL.
 */

import type { Agent } from "../agent.ts";
import type { Rng } from "../rng.ts";
import type { Network } from "./network.ts";

/** Exp3's exploration share. */
export const EXP3_GAMMA = 0.1;
/** Hop-by-hop packets carry a TTL rather than a source-checked hop cap. */
export const HOP_BY_HOP_TTL = 16;

export interface HopWalk {
  ok: boolean;
  ms: number;
  path: number[];
}

/** Candidate next hops of the exploring hop (reused: one walk at a time). */
let scratch = new Int32Array(64);

export function hopByHopWalk(
  net: Network,
  agents: readonly (Agent | null)[],
  src: number,
  dst: number,
  t: number,
  rng: Rng,
): HopWalk {
  const path: number[] = [];
  let ms = 0;
  let prev = -1;
  let cur = src;
  for (let ttl = 0; ttl < HOP_BY_HOP_TTL; ttl++) {
    if (cur === dst) return { ok: true, ms, path };
    const ag = agents[cur];
    if (!ag) return { ok: false, ms, path };
    let next = -1;
    if (rng.next() < EXP3_GAMMA) {
      const all = net.neighbours(cur);
      if (scratch.length < all.length) scratch = new Int32Array(all.length);
      let k = 0;
      for (const n of all) if (n !== prev && ag.hasNeighbour(n)) scratch[k++] = n;
      if (k > 0) next = scratch[Math.floor(rng.next() * k)]!;
    }
    if (next < 0) next = ag.suggestNextHop(dst, prev >= 0 ? [prev, cur] : [cur], [], t)?.next ?? -1;
    if (next < 0) return { ok: false, ms, path };
    const li = net.link(cur, next);
    if (li < 0 || net.linkUp[li] === 0 || net.nodeUp[next] === 0) return { ok: false, ms, path };
    if (rng.next() < net.lossOf(li)) return { ok: false, ms, path };
    ms += net.sampleMs(li);
    path.push(next);
    prev = cur;
    cur = next;
  }
  return { ok: cur === dst, ms, path };
}
