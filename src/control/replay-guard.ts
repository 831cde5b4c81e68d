/**
 * Remembers (sender, nonce) pairs until the message they came with expires, so a control message is
 * accepted at most once. Entries are bounded: when the cache is full of live entries, `check`
 * answers "full" and the caller refuses the message (it cannot prove it is not a replay).
 * Not for concurrent use.
 */

/* Implementation constants */
export const REPLAY_CACHE_MAX = 65_536;
const PRUNE_EVERY_MS = 1_000;

export type ReplayVerdict = "fresh" | "replayed" | "full";

export class ReplayGuard {
  readonly #seen = new Map<string, number>();
  readonly #max: number;
  #lastPrune = 0;

  constructor(max: number = REPLAY_CACHE_MAX) {
    this.#max = max;
  }

  /** Records `key` until `expiresMs` if it is new. Call only after the signature verified. */
  check(key: string, expiresMs: number, nowMs: number): ReplayVerdict {
    if (nowMs - this.#lastPrune > PRUNE_EVERY_MS || this.#seen.size >= this.#max) this.#prune(nowMs);
    const seenUntil = this.#seen.get(key);
    if (seenUntil !== undefined && seenUntil > nowMs) return "replayed";
    if (this.#seen.size >= this.#max) return "full";
    this.#seen.set(key, expiresMs);
    return "fresh";
  }

  get size(): number {
    return this.#seen.size;
  }

  #prune(nowMs: number): void {
    this.#lastPrune = nowMs;
    for (const [k, until] of this.#seen) if (until <= nowMs) this.#seen.delete(k);
  }
}
