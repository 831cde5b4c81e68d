import { describe, expect, test } from "bun:test";
import { COST_UNIT_MS } from "../../../rl/constants.ts";
import type { NodeId, Summary } from "../../../rl/types.ts";
import { HealthBoard } from "./health-board.ts";

/** A full summary from `origin`: [dest, ms, hops, via] per entry. */
function summary(origin: NodeId, entries: [NodeId, number, number, NodeId][]): Summary {
  return {
    origin,
    seq: 1,
    full: true,
    dests: Uint32Array.from(entries.map((e) => e[0])),
    costs: Uint16Array.from(entries.map((e) => Math.round(e[1] / COST_UNIT_MS))),
    hops: Uint8Array.from(entries.map((e) => e[2])),
    vias: Uint32Array.from(entries.map((e) => e[3])),
  };
}

describe("health board - resolving a build from the claims", () => {
  test("follows each hop's own route, falling back to its neighbour with the cheapest claim", () => {
    const b = new HealthBoard();
    b.apply(
      summary(6, [
        [1, 1, 1, 1],
        [5, 1, 1, 5],
        [4, 3, 3, 1],
      ]),
      0,
    ); // 6 reaches 4 through 1 (us)
    b.apply(
      summary(5, [
        [6, 1, 1, 6],
        [4, 1, 1, 4],
      ]),
      0,
    );
    expect(b.resolve(1, 6, 4, [], 8)?.hops).toEqual([6, 5, 4]);
  });

  test("searches the advertised links when the hops' routes lead nowhere", () => {
    const b = new HealthBoard();
    // 6 routes 4 through us; 5 has withdrawn 4 (its route ran through 6) but links to 3, which links to 4
    b.apply(
      summary(6, [
        [1, 1, 1, 1],
        [5, 1, 1, 5],
        [4, 3, 3, 1],
      ]),
      0,
    );
    b.apply(
      summary(5, [
        [6, 1, 1, 6],
        [3, 2, 1, 3],
      ]),
      0,
    );
    b.apply(
      summary(3, [
        [5, 2, 1, 5],
        [4, 1, 1, 4],
      ]),
      0,
    );
    const r = b.resolve(1, 6, 4, [], 8);
    expect(r?.hops).toEqual([6, 5, 3, 4]);
    expect(r?.claimsMs.slice(0, 3).every(Number.isNaN)).toBe(true);
    expect(r?.claimsMs[3]).toBe(0);
    // never through this node, an avoided node, or beyond the hop cap
    expect(b.resolve(1, 6, 4, [3], 8)).toBeNull();
    expect(b.resolve(1, 6, 4, [], 3)).toBeNull();
  });

  test("a withdrawn link is forgotten", () => {
    const b = new HealthBoard();
    b.apply(summary(6, [[5, 1, 1, 5]]), 0);
    b.apply(summary(5, [[4, 1, 1, 4]]), 0);
    expect(b.resolve(1, 6, 4, [], 8)?.hops).toEqual([6, 5, 4]);
    b.apply(summary(5, []), 1); // a full summary without 4
    expect(b.resolve(1, 6, 4, [], 8)).toBeNull();
  });
});
