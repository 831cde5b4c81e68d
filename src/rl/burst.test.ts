import { describe, expect, test } from "bun:test";
import { Agent } from "./agent.ts";
import { BURST_CAP_MS, burstMs, TRAIN_PACKETS, TRAIN_PERIOD_MS } from "./burst.ts";
import { COST_UNIT_MS, DEFAULT_PARAMS } from "./constants.ts";
import { DestState, PathRow } from "./path-row.ts";
import { pickBetter, upperBound } from "./policy.ts";
import type { Action, Hops, Summary } from "./types.ts";

describe("burst cost of a train", () => {
  test("a train that arrives whole costs its spread", () => {
    expect(burstMs({ sent: 32, received: 32, firstEchoAt: 100, lastEchoAt: 103 })).toBeCloseTo(3, 6);
  });

  test("lost probes stretch the spread to the whole train and count again as loss", () => {
    // a 1 Mbit/s token bucket: 22 of 32 echoes, the last 6 spaced 8 ms apart
    const ms = burstMs({ sent: 32, received: 22, firstEchoAt: 0, lastEchoAt: 48 });
    expect(ms).toBeCloseTo(((48 * 31) / 21) * (32 / 22), 6);
    expect(ms).toBeGreaterThan(100);
  });

  test("a train with at most one echo costs the cap; a train not sent costs nothing", () => {
    expect(burstMs({ sent: 32, received: 1, firstEchoAt: 5, lastEchoAt: 5 })).toBe(BURST_CAP_MS);
    expect(burstMs({ sent: 32, received: 0, firstEchoAt: 5, lastEchoAt: 5 })).toBe(BURST_CAP_MS);
    expect(burstMs({ sent: 32, received: 32, firstEchoAt: 0, lastEchoAt: 1e9 })).toBe(BURST_CAP_MS);
    expect(burstMs({ sent: 0, received: 0, firstEchoAt: 0, lastEchoAt: 0 })).toBeNaN();
    expect(burstMs({ sent: 32, received: 33, firstEchoAt: 0, lastEchoAt: 1 })).toBeNaN();
  });
});

/** Node 0 with neighbours 1 and 2; two 2-relay routes to 9 with the same RTT. */
function ring(): Agent {
  const ag = new Agent({ self: 0, seed: 3 });
  ag.onLinkUp(1, 0, 1);
  ag.onLinkUp(2, 0, 1);
  const claim = (origin: number): Summary => ({
    origin,
    seq: 1,
    full: true,
    dests: Uint32Array.of(9),
    costs: Uint16Array.of(Math.round(2 / COST_UNIT_MS)),
    hops: Uint8Array.of(2),
    vias: Uint32Array.of(origin + 4),
  });
  ag.onNeighbourSummary(claim(1), 0);
  ag.onNeighbourSummary(claim(2), 0);
  return ag;
}

const ROUTES: Record<number, Hops> = { 1: [1, 5, 9], 2: [2, 6, 9] };

/**
 * Drives `ag` with 3 ms RTT on both routes and light data towards 9; trains (when `trains`) drain
 * in `drain(hops)` ms with every echo in. Returns the trains sent per first hop.
 */
function run(ag: Agent, from: number, to: number, trains: boolean, drain: (h: Hops) => number) {
  const sent = new Map<number, number>();
  for (let t = from; t < to; t += 100) {
    const c = ag.choose(9, t);
    if (c.path) {
      ag.noteSent(9, c.pathId, t);
      ag.observe({ type: "ack", pathId: c.pathId, sentAt: t, rttMs: 3 }, t + 3);
    }
    for (const a of ag.tick(t) as Action[]) {
      if (a.type === "pathProbe") ag.observe({ type: "probeReply", probeId: a.probeId, rttMs: 3 }, t + 3);
      else if (a.type === "linkProbe")
        ag.observe({ type: "probeReply", probeId: a.probeId, rttMs: 1 }, t + 1);
      else if (a.type === "build") {
        const hops = a.hops ?? ROUTES[a.firstHop];
        if (!hops) continue;
        const prefixRttMs = hops.map((_, i) => i + 1);
        ag.observe(
          { type: "built", buildId: a.buildId, hops, prefixRttMs, claimsMs: hops.map(() => Number.NaN) },
          t + 3,
        );
      }
    }
    if (!trains) continue;
    for (const tr of ag.dueTrains(t)) {
      sent.set(tr.hops[0]!, (sent.get(tr.hops[0]!) ?? 0) + 1);
      const ms = drain(tr.hops);
      ag.observeTrain(
        tr.pathId,
        { sent: TRAIN_PACKETS, received: TRAIN_PACKETS, firstEchoAt: t + 3, lastEchoAt: t + 3 + ms },
        t + 3 + ms,
      );
    }
  }
  return sent;
}

describe("agent - a path that cannot carry a burst", () => {
  test("without trains, two routes of equal RTT keep the first choice", () => {
    const ag = ring();
    run(ag, 0, 20_000, false, () => 0);
    const first = ag.choose(9, 20_000).path![0]!;
    run(ag, 20_000, 60_000, false, () => 0);
    expect(ag.choose(9, 60_000).path![0]).toBe(first);
  });

  test("trains reveal a slow link on the active path: data moves within two train periods and stays", () => {
    const ag = ring();
    const sent0 = run(ag, 0, 20_000, true, () => 3);
    expect(sent0.get(1)! + sent0.get(2)!).toBeGreaterThanOrEqual(2); // both routes are measured
    const slowFirst = ag.choose(9, 20_000).path![0]!;
    const slow = (h: Hops) => (h[0] === slowFirst ? 110 : 3);
    let movedAt = Number.NaN;
    for (let t = 20_000; t < 60_000; t += 1_000) {
      run(ag, t, t + 1_000, true, slow);
      const now = ag.choose(9, t + 1_000).path![0]!;
      if (now !== slowFirst && Number.isNaN(movedAt)) movedAt = t + 1_000 - 20_000;
      if (!Number.isNaN(movedAt)) expect(now).not.toBe(slowFirst); // no flapping back
    }
    expect(movedAt).toBeLessThanOrEqual(2 * TRAIN_PERIOD_MS * 1.25 + 1_000);
  });

  test("a link whose capacity came back is believed at the next train", () => {
    const ag = ring();
    const slowFirst = { id: -1 };
    run(ag, 0, 20_000, true, () => 3);
    slowFirst.id = ag.choose(9, 20_000).path![0]!;
    run(ag, 20_000, 60_000, true, (h) => (h[0] === slowFirst.id ? 110 : 3));
    const row = ag.destState(9)!.paths.find((r) => r.hops[0] === slowFirst.id)!;
    expect(row.burst.mu).toBeGreaterThan(50);
    run(ag, 60_000, 60_000 + 2 * TRAIN_PERIOD_MS * 1.25 + 1_000, true, () => 3);
    expect(row.burst.mu).toBeLessThan(5);
  });

  test("a path whose burst is unmeasured does not displace one whose burst is known", () => {
    const ds = new DestState(9, 0);
    const a = new PathRow(1, 9, [1, 5, 9], 0, 1e9);
    const b = new PathRow(2, 9, [2, 6, 9], 0, 1e9);
    for (let k = 0; k < 5; k++) {
      a.est.add(3, k * 100, DEFAULT_PARAMS.discountHalfLifeMs, DEFAULT_PARAMS.maxWeight);
      b.est.add(3, k * 100, DEFAULT_PARAMS.discountHalfLifeMs, DEFAULT_PARAMS.maxWeight);
    }
    a.burst.add(20, 500, DEFAULT_PARAMS.discountHalfLifeMs, DEFAULT_PARAMS.burstMaxWeight);
    ds.paths.push(a, b);
    ds.active = a;
    ds.activeSince = 0;
    a.state = "active";
    b.state = "candidate";
    expect(b.cost()).toBeLessThan(0.9 * a.cost());
    expect(pickBetter(ds, 20_000, DEFAULT_PARAMS)).toBeNull();
    b.burst.add(2, 600, DEFAULT_PARAMS.discountHalfLifeMs, DEFAULT_PARAMS.burstMaxWeight);
    expect(pickBetter(ds, 20_000, DEFAULT_PARAMS)).toBe(b);
  });
});

describe("agent - noise on a busy host", () => {
  const H = DEFAULT_PARAMS.discountHalfLifeMs;
  const W = DEFAULT_PARAMS.burstMaxWeight;

  test("one slow train (a busy host) does not move a path's burst; two in a row do", () => {
    const r = new PathRow(1, 9, [1, 5, 9], 0, 1e9);
    r.burst.add(3, 0, H, W);
    r.burst.add(1_000, 10_000, H, W); // every echo late or lost once
    expect(r.burst.mu).toBe(3);
    r.burst.add(4, 20_000, H, W);
    expect(r.burst.mu).toBe(4);
    r.burst.add(110, 30_000, H, W); // the link became slow: every train is slow from now on
    r.burst.add(120, 40_000, H, W);
    expect(r.burst.mu).toBe(110);
    r.burst.reset();
    expect(r.burst.nEff).toBe(0);
    r.burst.add(5, 50_000, H, W);
    expect(r.burst.mu).toBe(5);
  });

  test("a few agreeing probes do not prove a challenger better than an active path whose acks are noisy", () => {
    // a busy host: the active path's acks spread from 100 to 400 ms; four probes of the challenger
    // happened to agree on 200 ms
    const ds = new DestState(9, 0);
    const a = new PathRow(1, 9, [1, 5, 9], 0, 1e9);
    const r = new PathRow(2, 9, [2, 6, 9], 0, 1e9);
    for (let k = 0; k < 20; k++) a.est.add(k % 2 ? 100 : 400, k * 100, H, DEFAULT_PARAMS.maxWeight);
    for (let k = 0; k < 4; k++) r.est.add(200 + (k % 2), 2_000 + k * 100, H, DEFAULT_PARAMS.maxWeight);
    ds.paths.push(a, r);
    ds.active = a;
    a.state = "active";
    r.state = "candidate";
    expect(upperBound(r, 3_000, DEFAULT_PARAMS)).toBeLessThan(0.9 * a.cost()); // its own spread says "proven"
    expect(pickBetter(ds, 3_000, DEFAULT_PARAMS)).toBeNull();
    // more samples that keep agreeing do prove it
    for (let k = 4; k < 20; k++) r.est.add(200 + (k % 2), 2_000 + k * 100, H, DEFAULT_PARAMS.maxWeight);
    expect(pickBetter(ds, 4_000, DEFAULT_PARAMS)).toBe(r);
  });
});
