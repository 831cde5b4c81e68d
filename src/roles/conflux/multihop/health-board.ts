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
/** A route searched on the advertised links (when the hops' own routes lead nowhere) visits at most this many nodes. */
export const SEARCH_MAX_NODES = 512;

interface Claim {
  cost: number;
  hops: number;
  via: NodeId;
}

interface View {
  readonly dests: Map<NodeId, Claim>;
  /** Its direct links as it advertises them (1-hop entries reached through themselves): cost units. */
  readonly links: Map<NodeId, number>;
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
      v = { dests: new Map(), links: new Map(), seq: 0, heardAt: now };
      this.#views.set(s.origin, v);
    }
    if (s.full) {
      v.dests.clear();
      v.links.clear();
    }
    for (let i = 0; i < s.dests.length; i++) {
      const d = s.dests[i]!;
      if (s.costs[i] === UNREACHABLE) {
        v.dests.delete(d);
        v.links.delete(d);
      } else if (v.dests.size < MAX_DESTS_PER_ORIGIN || v.dests.has(d)) {
        v.dests.set(d, { cost: s.costs[i]!, hops: s.hops[i]!, via: s.vias[i]! });
        if (s.hops[i] === 1 && s.vias[i] === d && d !== s.origin) v.links.set(d, s.costs[i]!);
        else v.links.delete(d);
      }
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

  /** What `origin` advertises for `dest` ("cost via hops" or "nothing"), for logs. */
  describe(origin: NodeId, dest: NodeId): string {
    const v = this.#views.get(origin);
    if (!v) return "no summary";
    const c = v.dests.get(dest);
    return c ? `${(c.cost * COST_UNIT_MS).toFixed(1)} ms via ${c.via} (${c.hops} hops)` : "nothing";
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
   * Returns the hops and what each hop claimed (0 for the destination), or null. When the hops'
   * own routes lead nowhere (they run back through this node or a skipped hop, as they do while a
   * distance vector settles after a link came back or a node restarted), the route is searched on
   * the links the nodes advertise instead (`#search`).
   */
  resolve(
    self: NodeId,
    first: NodeId,
    dest: NodeId,
    avoid: readonly NodeId[],
    hopCap: number,
  ): { hops: NodeId[]; claimsMs: number[] } | null {
    return this.#follow(self, first, dest, avoid, hopCap) ?? this.#search(self, first, dest, avoid, hopCap);
  }

  #follow(
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

  /**
   * The cheapest route from `first` to `dest` over the advertised links (Dijkstra on each node's
   * 1-hop entries), avoiding this node and `avoid`, within `hopCap` hops, visiting at most
   * SEARCH_MAX_NODES nodes. The hops made no claims for it: each claim is reported unknown (NaN).
   */
  #search(
    self: NodeId,
    first: NodeId,
    dest: NodeId,
    avoid: readonly NodeId[],
    hopCap: number,
  ): { hops: NodeId[]; claimsMs: number[] } | null {
    const skip = new Set<NodeId>([self, ...avoid]);
    skip.delete(dest);
    if (skip.has(first)) return null;
    const dist = new Map<NodeId, { cost: number; depth: number; prev: NodeId }>([
      [first, { cost: 0, depth: 1, prev: -1 }],
    ]);
    const done = new Set<NodeId>();
    while (done.size < SEARCH_MAX_NODES) {
      let cur: NodeId = -1;
      let best = Number.POSITIVE_INFINITY;
      for (const [n, e] of dist) {
        if (!done.has(n) && e.cost < best) {
          best = e.cost;
          cur = n;
        }
      }
      if (cur < 0) return null;
      done.add(cur);
      const here = dist.get(cur)!;
      if (cur === dest) {
        const hops: NodeId[] = [];
        for (let n = cur; n >= 0; n = dist.get(n)!.prev) hops.unshift(n);
        return { hops, claimsMs: hops.map((h) => (h === dest ? 0 : Number.NaN)) };
      }
      if (here.depth >= hopCap) continue;
      const links = this.#views.get(cur)?.links;
      if (!links) continue;
      for (const [n, c] of links) {
        if (skip.has(n) || done.has(n)) continue;
        const cost = here.cost + c;
        const old = dist.get(n);
        if (!old || cost < old.cost) dist.set(n, { cost, depth: here.depth + 1, prev: cur });
      }
    }
    return null;
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
