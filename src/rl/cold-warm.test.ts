import { describe, expect, test } from "bun:test";
import { Agent } from "./agent.ts";
import { COST_UNIT_MS } from "./constants.ts";
import type { Action, Hops, NodeId, Summary } from "./types.ts";

/** A summary from `origin`: `[dest, ms, hops, via]` per destination. */
function claims(origin: NodeId, seq: number, entries: [NodeId, number, number, NodeId][]): Summary {
  return {
    origin,
    seq,
    full: true,
    dests: Uint32Array.from(entries.map((e) => e[0])),
    costs: Uint16Array.from(entries.map((e) => Math.round(e[1] / COST_UNIT_MS))),
    hops: Uint8Array.from(entries.map((e) => e[2])),
    vias: Uint32Array.from(entries.map((e) => e[3])),
  };
}

const builds = (a: readonly Action[]) =>
  a.filter((x): x is Extract<Action, { type: "build" }> => x.type === "build");

/**
 * Node 0 on a ring: neighbour 1 (a liar: claims 9 at 0.1 ms through 2) and neighbour 6, whose own
 * route to 9 runs back through 0 (0 re-advertised the liar's claim), so split horizon withdraws it.
 */
function ring(): Agent {
  const ag = new Agent({ self: 0, seed: 11 });
  ag.onLinkUp(1, 0, 1);
  ag.onLinkUp(6, 0, 1);
  ag.onNeighbourSummary(claims(1, 1, [[9, 0.1, 2, 2]]), 0);
  ag.onNeighbourSummary(
    claims(6, 1, [
      [9, 1.5, 3, 0],
      [5, 0.5, 1, 5],
    ]),
    0,
  );
  return ag;
}

/** Runs ticks, completing every build along `routes[firstHop]` (RTT `rtt(hops)`) and answering probes. */
function run(ag: Agent, from: number, to: number, routes: Record<number, Hops>, rtt: (h: Hops) => number) {
  const seen: Action[] = [];
  for (let t = from; t < to; t += 100) {
    const c = ag.choose(9, t);
    if (c.path) {
      ag.noteSent(9, c.pathId, t);
      ag.observe({ type: "ack", pathId: c.pathId, sentAt: t, rttMs: rtt(c.path) }, t + 1);
    }
    for (const a of ag.tick(t)) {
      seen.push(a);
      if (a.type === "pathProbe")
        ag.observe({ type: "probeReply", probeId: a.probeId, rttMs: rtt(a.hops) }, t + 1);
      else if (a.type === "linkProbe")
        ag.observe({ type: "probeReply", probeId: a.probeId, rttMs: 1 }, t + 1);
      else if (a.type === "build") {
        const hops = a.hops ?? routes[a.firstHop];
        if (!hops) {
          ag.observe({ type: "buildFailed", buildId: a.buildId }, t + 1);
          continue;
        }
        const prefixRttMs = hops.map((_, i) => ((i + 1) / hops.length) * rtt(hops));
        ag.observe(
          { type: "built", buildId: a.buildId, hops, prefixRttMs, claimsMs: hops.map(() => Number.NaN) },
          t + 1,
        );
      }
    }
  }
  return seen;
}

const ROUTES: Record<number, Hops> = { 1: [1, 2, 9], 6: [6, 5, 9] };
const RTT = (h: Hops) => (h[0] === 1 ? 45 : 3);

describe("agent - cold start", () => {
  test("a neighbour whose claims route through this node is still tried as a first hop", () => {
    const ag = ring();
    const seen = run(ag, 0, 30_000, ROUTES, RTT);
    expect(builds(seen).some((b) => b.firstHop === 6 && b.hops === null)).toBe(true);
    expect(ag.choose(9, 30_000).path).toEqual([6, 5, 9]); // the good path, not the liar's
  });
});

describe("agent - warm start", () => {
  test("a stored route is not tried before its first hop is up; a failed build is tried again", () => {
    const ag = new Agent({ self: 0, seed: 5 });
    ag.importRows([{ dest: 9, hops: [6, 5, 9], mu: 3, variance: 1, nEff: 10, loss: 0, lastMs: 0 }], [], 0);
    // no link session yet: nothing is built, and no attempt is spent
    for (let t = 0; t < 1_000; t += 100) expect(builds(ag.tick(t))).toEqual([]);
    ag.onLinkUp(6, 1_000, 1);
    const first = builds(ag.tick(1_000));
    expect(first.map((b) => b.hops)).toEqual([[6, 5, 9]]);
    ag.observe({ type: "buildFailed", buildId: first[0]!.buildId }, 1_500);
    const seen = run(ag, 1_500, 8_000, {}, () => 3);
    expect(builds(seen).some((b) => b.hops?.join() === "6,5,9")).toBe(true);
    expect(ag.choose(9, 8_000).path).toEqual([6, 5, 9]);
  });
});

describe("agent - a build's RTT", () => {
  test("a build slowed by the hops' key exchanges does not weigh on the path once a probe answers", () => {
    const ag = new Agent({ self: 0, seed: 2 });
    ag.onLinkUp(6, 0, 1);
    ag.onNeighbourSummary(claims(6, 1, [[9, 2, 2, 5]]), 0);
    ag.choose(9, 0);
    const b = builds(ag.tick(0))[0]!;
    ag.observe(
      {
        type: "built",
        buildId: b.buildId,
        hops: [6, 5, 9],
        prefixRttMs: [400, 1200, 2000],
        claimsMs: [Number.NaN, Number.NaN, 0],
      },
      2_000,
    );
    let answered = 0;
    for (let t = 2_000; t <= 3_000 && answered === 0; t += 100) {
      for (const a of ag.tick(t)) {
        if (a.type !== "pathProbe") continue;
        ag.observe({ type: "probeReply", probeId: a.probeId, rttMs: 3 }, t + 3);
        answered++;
        break;
      }
    }
    expect(answered).toBe(1);
    const row = ag.activeRow(9)!;
    expect(row.est.mu).toBeCloseTo(3, 6);
    expect(row.cost()).toBeLessThan(5);
  });
});

const STORED = [
  { dest: 9, hops: [6, 5, 9], mu: 3, variance: 1, nEff: 10, loss: 0, lastMs: 0 },
  { dest: 9, hops: [1, 2, 9], mu: 45, variance: 4, nEff: 10, loss: 0, lastMs: 0 },
];
const explicit = (a: readonly Action[]) => builds(a).filter((b) => b.hops !== null);

describe("agent - warm start order", () => {
  const answer = (ag: Agent, b: { buildId: number; hops: Hops | null }, at: number) =>
    ag.observe(
      {
        type: "built",
        buildId: b.buildId,
        hops: b.hops!,
        prefixRttMs: b.hops!.map((_, k) => k + 1),
        claimsMs: b.hops!.map((_, k, h) => (k === h.length - 1 ? 0 : NaN)),
      },
      at,
    );

  /** An agent restarted from STORED with both first hops up, and the builds of its first tick. */
  const restartedWithBothHops = () => {
    const ag = new Agent({ self: 0, seed: 4 });
    ag.importRows(STORED, [], 0);
    ag.onLinkUp(1, 0, 1);
    ag.onLinkUp(6, 0, 1);
    return { ag, bs: explicit(ag.tick(0)) };
  };

  test("stored routes are rebuilt together; the better one takes over when it answers after the worse", () => {
    const { ag, bs } = restartedWithBothHops();
    expect(bs.map((b) => b.hops)).toEqual([
      [6, 5, 9],
      [1, 2, 9],
    ]);
    answer(ag, bs[1]!, 150); // the worse answers first: data goes at once
    expect(ag.choose(9, 160).path).toEqual([1, 2, 9]);
    answer(ag, bs[0]!, 250); // the node's own record ranks the other first
    expect(ag.choose(9, 260).path).toEqual([6, 5, 9]);
    run(ag, 300, 5_000, {}, RTT);
    expect(ag.choose(9, 5_000).path).toEqual([6, 5, 9]);
  });

  test("a stored route is built once its first hop is up; a better one whose hop comes up later takes over", () => {
    const ag = new Agent({ self: 0, seed: 4 });
    ag.importRows(STORED, [], 0);
    ag.onLinkUp(1, 0, 1); // only the worse route's first hop is up
    expect(explicit(run(ag, 0, 500, {}, RTT)).map((b) => b.hops)).toEqual([[1, 2, 9]]);
    expect(ag.choose(9, 500).path).toEqual([1, 2, 9]);
    ag.onLinkUp(6, 3_500, 1);
    expect(explicit(run(ag, 3_500, 3_700, {}, RTT)).map((b) => b.hops)).toContainEqual([6, 5, 9]);
    expect(ag.choose(9, 3_700).path).toEqual([6, 5, 9]);
  });

  test("a path chosen by measurement is not replaced by a stored route that answers late", () => {
    const { ag, bs } = restartedWithBothHops();
    answer(ag, bs[1]!, 150);
    // a later comparison made the worse-stored path the choice (activeChosen)
    const ds = ag.destState(9)!;
    ds.activeChosen = true;
    answer(ag, bs[0]!, 250);
    expect(ag.choose(9, 260).path).toEqual([1, 2, 9]);
  });
});
