/**
 * What every node of the realm last claimed (its summaries on `vn.health.<id>`, signed by it),
 * merged per origin. Two uses:
 *
 *  - the agent gets a neighbour's merged claims as one full summary, renumbered here: the signed
 *    envelope already refuses replays, and a restarted neighbour starts its own numbering at 1;
 *  - a build that the agent leaves open ("ask each hop for the next one") is resolved from the
 *    claims of each hop: the hop's own advertised first hop towards the destination (its `via`),
 *    with the hop's claimed remaining cost. If that hop is excluded (visited or avoided), the next
 *    hop is the hop's neighbour that minimises link cost + that neighbour's claim, both as
 *    advertised; the hop made no claim for that choice, so its claim is reported as unknown (NaN).
 *
 * Claims only choose what to build and probe; what data uses rests on this node's measurements.
 */
import { COST_UNIT_MS, UNREACHABLE } from "../../../rl/constants.ts";
import type { NextHop, NodeId, Summary } from "../../../rl/types.ts";

/** Most origins remembered (a realm-wide bound against memory exhaustion). */
export const MAX_ORIGINS = 4096;
/** Most destinations remembered per origin. */
export const MAX_DESTS_PER_ORIGIN = 65_535;

interface Claim {
  cost: number;
  hops: number;
  via: NodeId;
}

interface View {
  readonly dests: Map<NodeId, Claim>;
  seq: number;
  heardAt: number;
}

export class HealthBoard {
  readonly #views = new Map<NodeId, View>();
  readonly counters = { accepted: 0, refused: 0 };

  /** Merges a summary whose origin was authenticated by the caller. */
  apply(s: Summary, now: number): boolean {
    let v = this.#views.get(s.origin);
    if (!v) {
      if (this.#views.size >= MAX_ORIGINS) this.#evictOldest();
      v = { dests: new Map(), seq: 0, heardAt: now };
      this.#views.set(s.origin, v);
    }
    if (s.full) v.dests.clear();
    for (let i = 0; i < s.dests.length; i++) {
      const d = s.dests[i]!;
      if (s.costs[i] === UNREACHABLE) v.dests.delete(d);
      else if (v.dests.size < MAX_DESTS_PER_ORIGIN || v.dests.has(d))
        v.dests.set(d, { cost: s.costs[i]!, hops: s.hops[i]!, via: s.vias[i]! });
    }
    v.seq++;
    v.heardAt = now;
    this.counters.accepted++;
    return true;
  }

  has(origin: NodeId): boolean {
    return this.#views.has(origin);
  }

  /** The merged claims of `origin` as a full summary with this board's own sequence number. */
  fullSummary(origin: NodeId): Summary | null {
    const v = this.#views.get(origin);
    if (!v) return null;
    const n = v.dests.size;
    const s = {
      origin,
      seq: v.seq,
      full: true,
      dests: new Uint32Array(n),
      costs: new Uint16Array(n),
      hops: new Uint8Array(n),
      vias: new Uint32Array(n),
    };
    let i = 0;
    for (const [d, c] of v.dests) {
      s.dests[i] = d;
      s.costs[i] = c.cost;
      s.hops[i] = c.hops;
      s.vias[i] = c.via;
      i++;
    }
    return s;
  }

  /** `origin`'s advertised cost to `dest` in ms (0 for itself), or NaN. */
  claimMs(origin: NodeId, dest: NodeId): number {
    if (origin === dest) return 0;
    const c = this.#views.get(origin)?.dests.get(dest);
    return c ? c.cost * COST_UNIT_MS : Number.NaN;
  }

  /** The next hop after `hop` towards `dest`, skipping `skip`; null when the claims know none. */
  suggest(hop: NodeId, dest: NodeId, skip: ReadonlySet<NodeId>): NextHop | null {
    const v = this.#views.get(hop);
    if (!v) return null;
    const own = v.dests.get(dest);
    if (own && !skip.has(own.via) && own.via !== hop)
      return { next: own.via, claimMs: own.cost * COST_UNIT_MS };
    let best: NodeId = -1;
    let bestMs = Number.POSITIVE_INFINITY;
    for (const [n, c] of v.dests) {
      if (c.hops !== 1 || c.via !== n || skip.has(n) || n === hop) continue;
      const rest = this.claimMs(n, dest);
      if (Number.isNaN(rest)) continue;
      const ms = c.cost * COST_UNIT_MS + rest;
      if (ms < bestMs) {
        bestMs = ms;
        best = n;
      }
    }
    return best < 0 ? null : { next: best, claimMs: Number.NaN };
  }

  /**
   * Resolves a whole route: `first` then each hop's suggestion until `dest`, at most `hopCap` hops.
   * Returns the hops and what each hop claimed (0 for the destination), or null.
   */
  resolve(
    self: NodeId,
    first: NodeId,
    dest: NodeId,
    avoid: readonly NodeId[],
    hopCap: number,
  ): { hops: NodeId[]; claimsMs: number[] } | null {
    const hops = [first];
    const claims: number[] = [];
    const skip = new Set<NodeId>([self, first, ...avoid]);
    skip.delete(dest);
    let cur = first;
    while (cur !== dest) {
      if (hops.length >= hopCap) return null;
      const s = this.suggest(cur, dest, skip);
      if (!s) return null;
      claims.push(s.claimMs);
      hops.push(s.next);
      skip.add(s.next);
      cur = s.next;
    }
    claims.push(0);
    return { hops, claimsMs: claims };
  }

  #evictOldest(): void {
    let oldest: NodeId = -1;
    let at = Number.POSITIVE_INFINITY;
    for (const [o, v] of this.#views) {
      if (v.heardAt < at) {
        at = v.heardAt;
        oldest = o;
      }
    }
    this.#views.delete(oldest);
  }
}
