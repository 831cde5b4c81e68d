import { describe, expect, test } from "bun:test";
import { DEFAULT_PARAMS } from "./constants.ts";
import { DestState, PathRow } from "./path-row.ts";
import { challengerFloor, pickBetter, proofBound } from "./policy.ts";
import { Sfc32 } from "./rng.ts";

const p = DEFAULT_PARAMS;

/** A destination with an active path and a few challengers, each with random samples. */
function randomDest(rng: Sfc32): DestState {
  const ds = new DestState(99, 0);
  const k = 1 + Math.floor(rng.next() * 5);
  for (let i = 0; i < k; i++) {
    const r = new PathRow(i + 1, 99, [i + 10, 99], 0, 1e9);
    const base = 5 + rng.next() * 100;
    const samples = Math.floor(rng.next() * 12);
    for (let j = 0; j < samples; j++) {
      const t = rng.next() * 20_000;
      r.est.add(base * (0.8 + 0.4 * rng.next()), t, p.discountHalfLifeMs, p.maxWeight);
      r.loss.add(rng.next() < 0.05, t, p.discountHalfLifeMs);
    }
    if (rng.next() < 0.3) r.burst.add(rng.next() * 50, 10_000, p.discountHalfLifeMs, p.burstMaxWeight);
    r.state = rng.next() < 0.15 ? "suspect" : "candidate";
    ds.paths.push(r);
  }
  ds.active = ds.paths[0]!;
  ds.active.state = "active";
  ds.activeChosen = rng.next() < 0.5;
  ds.activeSince = 0;
  return ds;
}

describe("challengerFloor", () => {
  test("stays below every challenger's proof bound as time passes, so pickBetter finds nothing while it clears the bar", () => {
    const rng = new Sfc32(11);
    let cleared = 0;
    let checked = 0;
    for (let n = 0; n < 3_000; n++) {
      const ds = randomDest(rng);
      const a = ds.active!;
      const now = 20_000 + rng.next() * 5_000;
      const floor = challengerFloor(ds, now, p);
      for (const later of [now, now + 100, now + 5_000, now + 600_000]) {
        for (const r of ds.paths) {
          if (r === a || !r.healthy()) continue;
          if (r.est.weightAt(now, p.discountHalfLifeMs) < p.minSamples - 0.5) continue;
          if (a.burst.nEff > 0 && r.burst.nEff === 0) continue;
          expect(proofBound(r, a, later, p)).toBeGreaterThanOrEqual(floor);
          checked++;
        }
        if (floor >= (1 - p.switchMargin) * a.cost()) {
          expect(pickBetter(ds, later, p)).toBeNull();
          cleared++;
        }
      }
    }
    // the property was exercised both ways
    expect(checked).toBeGreaterThan(1_000);
    expect(cleared).toBeGreaterThan(1_000);
  });
});

describe("pickBetter", () => {
  /** A measured challenger (20 ms, 10 samples) against an active path with `samples` samples of 200 ms. */
  function duel(samples: number, provisional: boolean): DestState {
    const ds = new DestState(99, 0);
    const active = new PathRow(1, 99, [10, 99], 0, 1e9);
    for (let j = 0; j < samples; j++) active.est.add(200, 1_000, p.discountHalfLifeMs, p.maxWeight);
    active.provisional = provisional;
    active.state = "active";
    const challenger = new PathRow(2, 99, [11, 99], 0, 1e9);
    for (let j = 0; j < 10; j++) challenger.est.add(20, 1_000, p.discountHalfLifeMs, p.maxWeight);
    challenger.state = "candidate";
    ds.paths.push(active, challenger);
    ds.active = active;
    ds.activeChosen = false;
    return ds;
  }

  test("does not leave an active path judged only by its build's RTT or by fewer samples than a challenger needs", () => {
    expect(pickBetter(duel(1, true), 1_000, p)).toBeNull();
    expect(pickBetter(duel(p.minSamples - 1, false), 1_000, p)).toBeNull();
    expect(pickBetter(duel(p.minSamples, true), 1_000, p)).toBeNull();
  });

  test("leaves it once it has as many samples as a challenger needs", () => {
    const ds = duel(p.minSamples, false);
    expect(pickBetter(ds, 1_000, p)).toBe(ds.paths[1]!);
  });
});
