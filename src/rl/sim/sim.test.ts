import { describe, expect, test } from "bun:test";
import { DEFAULT_SCENARIO, runScenario, type Scenario } from "./scenario.ts";

/** A small version of the 1,000-node run: same code, same fault mix, fewer nodes and seconds. */
const small: Scenario = {
  ...DEFAULT_SCENARIO,
  nodes: 150,
  durationMs: 150_000,
  warmupMs: 40_000,
  convergeWindowMs: 30_000,
  sampleFlows: 150,
};

describe("simulator - targets at small scale", () => {
  const r = runScenario(small);

  test("delivers ≥ 99% with 5% of links failing, far above static shortest paths", () => {
    expect(r.delivery).toBeGreaterThanOrEqual(0.99);
    expect(r.delivery).toBeGreaterThan(r.staticDelivery);
  });

  test("steady-state mean path latency ≤ 1.15 × oracle", () => {
    expect(r.stretch).toBeLessThanOrEqual(1.15);
    expect(r.stretch).toBeLessThan(r.randomStretch);
  });

  test("median recovery after a failed hop ≤ 1 s", () => {
    expect(r.recoveries).toBeGreaterThan(5);
    expect(r.recoveryP50).toBeLessThanOrEqual(1_000);
  });

  test("≤ 2 control messages per node per second", () => {
    expect(r.ctlPerNodeSec).toBeLessThanOrEqual(2);
  });

  test("a warm start converges at least 3× faster than a cold one", () => {
    expect(r.warm).not.toBeNull();
    expect(Number.isFinite(r.cold.meanMs)).toBe(true);
    expect(r.warm!.meanMs * 3).toBeLessThanOrEqual(r.cold.meanMs);
  });
});

describe("simulator - determinism", () => {
  test("the same seed gives the same run", () => {
    const tiny: Scenario = {
      ...small,
      nodes: 60,
      durationMs: 40_000,
      warmupMs: 10_000,
      convergeWindowMs: 10_000,
    };
    const a = runScenario(tiny);
    const b = runScenario(tiny);
    expect(a.hash).toBe(b.hash);
    expect(a.events).toBe(b.events);
    expect(runScenario({ ...tiny, seed: 2 }).hash).not.toBe(a.hash);
  }, 120_000);
});

describe("simulator - a node advertising false low costs", () => {
  // The best-connected node claims 0.3× its true cost to far destinations (the truth to its
  // neighbours' neighbourhood, which they could check), drops 30% of what it relays and adds 40 ms.
  const liar: Scenario = {
    ...small,
    durationMs: 120_000,
    warmupMs: 30_000,
    linkFailShare: 0,
    liarHubs: 1,
    liarMode: "smart",
    warmStart: false,
  };
  const measured = runScenario(liar);
  const trusting = runScenario({ ...liar, params: { measure: false } });

  test("attracts traffic while its claims are believed, loses it once measurements disagree", () => {
    expect(trusting.liarEndShare).toBeGreaterThan(2 * trusting.liarFairShare);
    expect(measured.liarEndShare).toBeLessThanOrEqual(measured.liarFairShare);
    expect(measured.liarEndShare).toBeLessThan(0.25 * trusting.liarEndShare);
    expect(measured.delivery).toBeGreaterThan(trusting.delivery);
    expect(measured.delivery).toBeGreaterThanOrEqual(0.99);
  });
});
