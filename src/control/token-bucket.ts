/** A token bucket: `ratePerSecond` steady state, bursts up to `burst`. Not for concurrent use. */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #last: number;

  constructor(ratePerSecond: number, burst: number, nowMs: number = performance.now()) {
    if (!(ratePerSecond > 0) || !(burst >= 1))
      throw new RangeError("token bucket needs rate > 0 and burst >= 1");
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#last = nowMs;
  }

  /** Takes one token if available. */
  take(nowMs: number = performance.now()): boolean {
    this.#refill(nowMs);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until one token is available (0 if one is). */
  waitMs(nowMs: number = performance.now()): number {
    this.#refill(nowMs);
    return this.#tokens >= 1 ? 0 : ((1 - this.#tokens) * 1000) / this.ratePerSecond;
  }

  /** True when the bucket is full (an idle sender; its state can be forgotten). */
  isFull(nowMs: number = performance.now()): boolean {
    this.#refill(nowMs);
    return this.#tokens >= this.burst;
  }

  #refill(nowMs: number): void {
    const dt = Math.max(0, nowMs - this.#last);
    this.#last = nowMs;
    this.#tokens = Math.min(this.burst, this.#tokens + (dt * this.ratePerSecond) / 1000);
  }
}
