/** What a simulation run measures (research/rl.md §4 "Metrics"), counted only inside the window. */

export class Metrics {
  /* control messages sent by nodes */
  master = 0;
  probes = 0;
  builds = 0;
  teardowns = 0;
  /* data packets */
  sent = 0;
  delivered = 0;
  noPath = 0;
  staticSent = 0;
  staticDelivered = 0;
  randomSent = 0;
  randomDelivered = 0;
  hopSent = 0;
  hopDelivered = 0;
  hopMs = 0;
  hopOracleMs = 0;
  readonly hopRecoveries: number[] = [];
  readonly hopPending = new Map<number, number>();
  /* latency over the oracle (sums over samples where the path works) */
  agentMs = 0;
  oracleMs = 0;
  ratios: number[] = [];
  staticMs = 0;
  staticOracleMs = 0;
  randomMs = 0;
  randomOracleMs = 0;
  /* recovery after a failure on the active path */
  readonly recoveries: number[] = [];
  private readonly pending = new Map<number, number>();
  failuresOnActive = 0;

  constructor(readonly windowStart: number) {}

  inWindow(t: number): boolean {
    return t >= this.windowStart;
  }

  /** A failure at `t` broke the active path of flow `f`. */
  failure(f: number, t: number): void {
    if (!this.pending.has(f)) {
      this.pending.set(f, t);
      this.failuresOnActive++;
    }
  }

  /** A packet of flow `f` arrived at `t`. */
  arrived(f: number, t: number): void {
    const since = this.pending.get(f);
    if (since === undefined || t < since) return;
    this.recoveries.push(t - since);
    this.pending.delete(f);
  }

  /** The flow ended (an endpoint left): its pending recovery does not count. */
  cancel(f: number): void {
    if (this.pending.delete(f)) this.failuresOnActive--;
  }

  /** Same bookkeeping for the hop-by-hop comparison. */
  hopFailure(f: number, t: number): void {
    if (!this.hopPending.has(f)) this.hopPending.set(f, t);
  }

  hopArrived(f: number, t: number): void {
    const since = this.hopPending.get(f);
    if (since === undefined || t < since) return;
    this.hopRecoveries.push(t - since);
    this.hopPending.delete(f);
  }

  get unrecovered(): number {
    return this.pending.size;
  }
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
