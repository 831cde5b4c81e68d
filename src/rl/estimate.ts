/**
 * A discounted estimate of a cost (research/rl.md §3 "Update"): the effective sample count n_eff decays
 * with time (half-life H), so an old or rarely sampled estimate is uncertain again and learns fast
 * (CQ-routing's confidence, D-UCB's discount). The learning rate is 1 / min(n_eff, maxWeight).
 */
export class Estimate {
  mu = 0;
  variance = 0;
  nEff = 0;
  lastAt = Number.NEGATIVE_INFINITY;

  /** n_eff as of `now`, without changing the estimate. */
  weightAt(now: number, halfLifeMs: number): number {
    if (this.nEff === 0) return 0;
    const dt = Math.max(0, now - this.lastAt);
    return this.nEff * 2 ** (-dt / halfLifeMs);
  }

  add(sample: number, now: number, halfLifeMs: number, maxWeight: number): void {
    const n = this.weightAt(now, halfLifeMs) + 1;
    if (this.nEff === 0) {
      this.mu = sample;
      this.variance = (sample * 0.1) ** 2; // one sample says little about spread
    } else {
      const alpha = 1 / Math.min(n, maxWeight);
      const delta = sample - this.mu;
      this.mu += alpha * delta;
      this.variance = (1 - alpha) * (this.variance + alpha * delta * delta);
    }
    this.nEff = n;
    this.lastAt = now;
  }

  /** Standard deviation with a floor of 2% of μ (identical samples still leave some doubt). */
  sd(): number {
    return Math.max(Math.sqrt(this.variance), 0.02 * this.mu);
  }

  /** Forgets everything (as if never sampled). */
  reset(): void {
    this.mu = 0;
    this.variance = 0;
    this.nEff = 0;
    this.lastAt = Number.NEGATIVE_INFINITY;
  }

  /** Restores a persisted estimate, aged by `ageMs` (n_eff halves per decayHalfLifeMs, variance grows). */
  restore(mu: number, variance: number, nEff: number, lastAt: number): void {
    this.mu = mu;
    this.variance = variance;
    this.nEff = nEff;
    this.lastAt = lastAt;
  }
}

/** A discounted loss ratio: failures / attempts, both decaying like Estimate's n_eff. */
export class LossRatio {
  fails = 0;
  total = 0;
  lastAt = Number.NEGATIVE_INFINITY;

  add(failed: boolean, now: number, halfLifeMs: number): void {
    const k = this.total === 0 ? 0 : 2 ** (-Math.max(0, now - this.lastAt) / halfLifeMs);
    this.fails = this.fails * k + (failed ? 1 : 0);
    this.total = this.total * k + 1;
    this.lastAt = now;
  }

  /** Laplace-smoothed so one early loss does not read as 100%. */
  value(): number {
    return this.fails / (this.total + 2);
  }
}

/** TCP-style smoothed RTT (RFC 6298) used for timeouts, separate from the cost estimate. */
export class SmoothedRtt {
  srtt = 0;
  rttvar = 0;

  reset(): void {
    this.srtt = 0;
    this.rttvar = 0;
  }

  add(rtt: number): void {
    if (this.srtt === 0) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
      return;
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
    this.srtt = 0.875 * this.srtt + 0.125 * rtt;
  }
}
