import { describe, expect, test } from "bun:test";
import { COST_UNIT_MS, UNREACHABLE } from "./constants.ts";
import { BAD_NEWS_HOLD_MS, DistanceTable } from "./distance-table.ts";
import { Sfc32 } from "./rng.ts";
import type { NodeId, Summary } from "./types.ts";

const HOP_CAP = 8;

function summary(
  origin: NodeId,
  seq: number,
  full: boolean,
  entries: [NodeId, number, number, NodeId][],
): Summary {
  return {
    origin,
    seq,
    full,
    dests: Uint32Array.from(entries.map((e) => e[0])),
    costs: Uint16Array.from(entries.map((e) => e[1])),
    hops: Uint8Array.from(entries.map((e) => e[2])),
    vias: Uint32Array.from(entries.map((e) => e[3])),
  };
}

/** The same rules, computed the slow way: min over usable neighbours of link RTT + claim. */
class Reference {
  readonly claims = new Map<NodeId, Map<NodeId, number>>();
  readonly link = new Map<NodeId, number>();
  readonly usable = new Map<NodeId, boolean>();
  constructor(readonly self: NodeId) {}
  add(n: NodeId, ms: number): void {
    if (!this.claims.has(n)) this.claims.set(n, new Map());
    this.claims.get(n)!.set(n, 0);
    this.link.set(n, ms);
    this.usable.set(n, true);
  }
  remove(n: NodeId): void {
    this.claims.delete(n);
    this.link.delete(n);
    this.usable.delete(n);
  }
  apply(s: Summary): void {
    const col = this.claims.get(s.origin)!;
    if (s.full) {
      col.clear();
      col.set(s.origin, 0);
    }
    for (let i = 0; i < s.dests.length; i++) {
      const d = s.dests[i]!;
      if (d === this.self || d === s.origin) continue;
      const withdrawn = s.costs[i] === UNREACHABLE || s.vias[i] === this.self || s.hops[i]! + 1 > HOP_CAP;
      if (withdrawn) col.delete(d);
      else col.set(d, s.costs[i]!);
    }
  }
  estimate(d: NodeId): number {
    let best = Number.POSITIVE_INFINITY;
    for (const [n, col] of this.claims) {
      if (!this.usable.get(n)) continue;
      const c = col.get(d);
      if (c !== undefined) best = Math.min(best, this.link.get(n)! + c * COST_UNIT_MS);
    }
    return best;
  }
}

describe("distance table", () => {
  test("estimates are the minimum over usable neighbours of link RTT + claim (random operations, dense and sparse ids)", () => {
    for (const base of [0, 1 << 20]) {
      const rng = new Sfc32(7 + base);
      const id = (k: number) => base + k;
      const self = id(0);
      const t = new DistanceTable(self, HOP_CAP, 0.1);
      const ref = new Reference(self);
      const seq = new Map<NodeId, number>();
      const nbrs = [1, 2, 3, 4, 5].map(id);
      const dests = Array.from({ length: 300 }, (_, k) => id(k));
      for (let step = 0; step < 2_000; step++) {
        const n = nbrs[Math.floor(rng.next() * nbrs.length)]!;
        const r = rng.next();
        if (!ref.link.has(n) || r < 0.03) {
          const ms = 1 + Math.round(rng.next() * 50);
          t.addNeighbour(n, ms, step);
          ref.add(n, ms);
        } else if (r < 0.05) {
          t.removeNeighbour(n);
          ref.remove(n);
        } else if (r < 0.08) {
          const ms = ref.link.get(n)! * (0.5 + rng.next());
          t.setLinkCost(n, ms, 0);
          ref.link.set(n, ms);
        } else if (r < 0.1) {
          const u = rng.next() < 0.7;
          t.setUsable(n, u);
          ref.usable.set(n, u);
        } else {
          const k = 1 + Math.floor(rng.next() * 40);
          const entries: [NodeId, number, number, NodeId][] = [];
          for (let j = 0; j < k; j++) {
            const d = dests[Math.floor(rng.next() * dests.length)]!;
            const x = rng.next();
            const cost = x < 0.1 ? UNREACHABLE : 10 + Math.floor(rng.next() * 20_000);
            entries.push([d, cost, x < 0.15 ? HOP_CAP : 1 + Math.floor(rng.next() * 5), x > 0.95 ? self : n]);
          }
          const s = summary(n, (seq.get(n) ?? 0) + 1, rng.next() < 0.05, entries);
          seq.set(n, s.seq);
          if (t.apply(s, step)) ref.apply(s);
        }
        if (step % 50 === 0 || step === 1_999) {
          for (const d of dests) {
            if (d === self) continue;
            const want = ref.estimate(d);
            const got = t.estimate(d);
            if (!Number.isFinite(want)) expect(got).toBe(Number.POSITIVE_INFINITY);
            else expect(got).toBe(Math.fround(want));
          }
        }
      }
      expect(t.destinations).toBeGreaterThan(250);
    }
  });

  test("summaries list their entries in slot order: ascending ids where slots are ids, first heard otherwise", () => {
    for (const base of [0, 1 << 20]) {
      const t = new DistanceTable(base, HOP_CAP, 0.1);
      t.addNeighbour(base + 1, 10, 0);
      const heard = [907, 12, 455, 3, 1200, 64];
      t.apply(
        summary(
          base + 1,
          1,
          false,
          heard.map((k) => [base + k, 100 + k, 2, base + 1]),
        ),
        0,
      );
      const full = [...t.snapshotSummary(1).dests];
      const delta = [...t.takeSummary(2, false).dests];
      const ids = [base + 1, ...heard.map((k) => base + k)];
      const want = base === 0 ? [...ids].sort((a, b) => a - b) : ids;
      expect(full).toEqual(want);
      expect(delta).toEqual(want);
      // a change later is published alone, and the full summary still lists every destination once
      t.apply(summary(base + 1, 2, false, [[base + 12, 1000, 2, base + 1]]), 1);
      expect([...t.takeSummary(3, false).dests]).toEqual([base + 12]);
      expect([...t.snapshotSummary(4).dests]).toEqual(want);
      expect(t.destinations).toBe(want.length);
      // slots for ids up to 1200, not for every id a sparse id could have
      expect(t.capacity).toBeLessThan(base === 0 ? 2_000 : 100);
    }
  });

  test("replays are refused, split horizon withdraws, a full summary replaces what a neighbour claimed", () => {
    const t = new DistanceTable(0, HOP_CAP, 0.1);
    t.addNeighbour(1, 10, 0);
    t.addNeighbour(2, 30, 0);
    expect(
      t.apply(
        summary(1, 1, false, [
          [7, 100, 1, 3],
          [8, 200, 2, 3],
        ]),
        0,
      ),
    ).toBe(true);
    expect(t.estimate(7)).toBeCloseTo(20, 4);
    expect(t.apply(summary(1, 1, false, [[7, 1, 1, 3]]), 0)).toBe(false); // same seq
    expect(t.estimate(7)).toBeCloseTo(20, 4);
    expect(t.apply(summary(9, 1, false, [[7, 1, 1, 3]]), 0)).toBe(false); // not a neighbour
    t.apply(summary(2, 1, false, [[7, 50, 1, 4]]), 0);
    expect(t.estimate(7)).toBeCloseTo(20, 4);
    expect(t.bestNext(7, [], HOP_CAP)).toEqual([1, 20]);
    t.apply(summary(1, 2, false, [[7, 100, 1, 0]]), 0); // its route goes through us: a withdrawal
    expect(t.estimate(7)).toBeCloseTo(35, 4);
    expect(t.claim(1, 7)).toBe(Number.POSITIVE_INFINITY);
    expect(t.estimate(8)).toBeCloseTo(30, 4);
    t.apply(summary(1, 3, true, [[9, 10, 1, 3]]), 0); // full: 8 is no longer listed
    expect(t.estimate(8)).toBe(Number.POSITIVE_INFINITY);
    expect(t.estimate(9)).toBeCloseTo(11, 4);
    expect(t.estimate(1)).toBeCloseTo(10, 4);
    t.removeNeighbour(1);
    expect(t.estimate(9)).toBe(Number.POSITIVE_INFINITY);
    expect(t.estimate(1)).toBe(Number.POSITIVE_INFINITY);
    expect(t.rank(7, new Set())).toEqual([[2, 35]]);
  });

  test("the delta summary carries only what moved by more than the change fraction", () => {
    const t = new DistanceTable(0, HOP_CAP, 0.1);
    t.addNeighbour(1, 10, 0);
    t.apply(
      summary(1, 1, false, [
        [5, 1000, 2, 3],
        [6, 1000, 2, 3],
      ]),
      0,
    );
    const first = t.takeSummary(1, false);
    expect([...first.dests].sort()).toEqual([1, 5, 6]);
    expect(t.pendingChanges).toBe(0);
    t.apply(
      summary(1, 2, false, [
        [5, 1050, 2, 3],
        [6, 2000, 3, 3],
      ]),
      0,
    ); // +5% and +100%
    const delta = t.takeSummary(2, false);
    expect([...delta.dests]).toEqual([6]);
    expect(delta.costs[0]).toBe(Math.round(210 / COST_UNIT_MS));
    expect(delta.hops[0]).toBe(4);
    expect(delta.vias[0]).toBe(1);
    const full = t.snapshotSummary(3);
    expect(full.full).toBe(true);
    expect(full.dests.length).toBe(3);
  });

  test("good news is due at the next slot, bad news only after the hold, and both go out together", () => {
    const t = new DistanceTable(0, HOP_CAP, 0.1);
    t.addNeighbour(1, 10, 0);
    t.addNeighbour(2, 10, 0);
    expect(t.publishDue(1_000, 1_000)).toBe(true); // two new destinations
    expect(t.publishDue(999, 1_000)).toBe(false);
    t.apply(summary(1, 1, false, [[5, 1000, 2, 3]]), 0);
    t.apply(summary(2, 1, false, [[6, 1000, 2, 4]]), 0);
    t.takeSummary(1, false);
    expect(t.publishDue(BAD_NEWS_HOLD_MS, 1_000)).toBe(false); // nothing pending
    // the route to 5 climbs through two intermediate costs, as after a failure upstream
    t.apply(summary(1, 2, false, [[5, 1500, 3, 3]]), 0);
    t.apply(summary(1, 3, false, [[5, 2500, 4, 3]]), 0);
    expect(t.pendingChanges).toBe(1);
    expect(t.publishDue(1_000, 1_000)).toBe(false);
    expect(t.publishDue(BAD_NEWS_HOLD_MS, 1_000)).toBe(true);
    // then the route to 6 gets clearly cheaper: due at once, carrying the held entry with it
    t.apply(summary(2, 2, false, [[6, 500, 2, 4]]), 0);
    expect(t.publishDue(1_000, 1_000)).toBe(true);
    const s = t.takeSummary(2, false);
    expect([...s.dests].sort()).toEqual([5, 6]);
    expect(s.costs[[...s.dests].indexOf(5)]).toBe(Math.round(260 / COST_UNIT_MS)); // where it settled
    expect(t.publishDue(BAD_NEWS_HOLD_MS, 1_000)).toBe(false);
    // a withdrawal is bad news too
    t.removeNeighbour(2);
    expect(t.pendingChanges).toBe(2); // 2 itself and 6;
    expect(t.publishDue(1_000, 1_000)).toBe(false);
    expect(t.publishDue(BAD_NEWS_HOLD_MS, 1_000)).toBe(true);
  });
});
