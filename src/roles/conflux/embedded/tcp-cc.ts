/**
 * Congestion control of the userspace TCP: CUBIC (RFC 9438) in bytes, with its Reno-friendly
 * region, slow start up to ssthresh, multiplicative decrease β = 0.7 on a loss episode and a
 * restart from one segment after a retransmission timeout. Pure arithmetic on the caller's clock.
 */

/* Specification constants (RFC 9438) */
const BETA = 0.7;
const C = 0.4;
/* Implementation constants */
/** RFC 6928 initial window: 10 segments. */
export const INITIAL_WINDOW_SEGMENTS = 10;
/** Upper bound on cwnd (bytes): far above any window this endpoint can fill. */
const MAX_CWND = 64 << 20;

export class Cubic {
  cwnd: number;
  ssthresh = Number.POSITIVE_INFINITY;
  #wMax = 0;
  #wLastMax = 0;
  #epochStart = -1;
  #k = 0;
  #wEst = 0;

  constructor(readonly mss: number) {
    this.cwnd = INITIAL_WINDOW_SEGMENTS * mss;
  }

  /** `acked` new bytes were acknowledged outside recovery. `srttMs` ≥ 0. */
  onAck(acked: number, nowMs: number, srttMs: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd = Math.min(this.cwnd + acked, MAX_CWND);
      return;
    }
    const mss = this.mss;
    const cwndSeg = this.cwnd / mss;
    if (this.#epochStart < 0) {
      this.#epochStart = nowMs;
      this.#k = cwndSeg < this.#wMax ? Math.cbrt((this.#wMax - cwndSeg) / C) : 0;
      if (cwndSeg >= this.#wMax) this.#wMax = cwndSeg;
      this.#wEst = cwndSeg;
    }
    const t = (nowMs - this.#epochStart + srttMs) / 1000;
    const target = C * (t - this.#k) ** 3 + this.#wMax;
    // Reno-friendly estimate (RFC 9438 §4.3): α = 3(1-β)/(1+β) segments per RTT.
    this.#wEst += ((3 * (1 - BETA)) / (1 + BETA)) * (acked / mss / cwndSeg);
    const goal = Math.max(target, this.#wEst);
    const grow = goal > cwndSeg ? ((goal - cwndSeg) / cwndSeg) * acked : (0.01 * acked) / cwndSeg;
    this.cwnd = Math.min(this.cwnd + grow, MAX_CWND);
  }

  /** A loss episode began (fast retransmit / RACK): reduce once. */
  onLoss(): void {
    const cwndSeg = this.cwnd / this.mss;
    // Fast convergence: give up bandwidth sooner when the last maximum was not reached.
    this.#wMax = cwndSeg < this.#wLastMax ? (cwndSeg * (1 + BETA)) / 2 : cwndSeg;
    this.#wLastMax = cwndSeg;
    this.ssthresh = Math.max(this.cwnd * BETA, 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.#epochStart = -1;
  }

  /** Retransmission timeout: remember half the flight, restart from one segment. */
  onRto(flight: number, firstInSeries: boolean): void {
    if (firstInSeries) {
      this.#wMax = this.cwnd / this.mss;
      this.#wLastMax = this.#wMax;
      this.ssthresh = Math.max(flight * BETA, 2 * this.mss);
    }
    this.cwnd = this.mss;
    this.#epochStart = -1;
  }
}
