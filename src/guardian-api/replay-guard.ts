/**
 * Remembers admin command ids until they expire, so a captured command cannot be played twice.
 * Only commands with a valid Guardian signature are recorded (nobody else can fill it). Bounded:
 * when full of unexpired ids it refuses new ones (fail closed) rather than forgetting old ones.
 * In memory: a node that restarts forgets; plug a persistent ReplayGuard to close that window.
 */

/* Implementation constants */
export const REPLAY_GUARD_CAPACITY = 10_000;

export interface ReplayGuard {
  /** Records `id` until `expiresAt`; false if it was already recorded (a replay) or there is no room. */
  admit(id: string, expiresAt: number, now: number): boolean;
}

export class MemoryReplayGuard implements ReplayGuard {
  readonly #seen = new Map<string, number>();
  readonly #capacity: number;
  constructor(capacity = REPLAY_GUARD_CAPACITY) {
    this.#capacity = capacity;
  }

  admit(id: string, expiresAt: number, now: number): boolean {
    if (this.#seen.has(id)) return false;
    if (this.#seen.size >= this.#capacity) {
      for (const [k, exp] of this.#seen) if (exp < now) this.#seen.delete(k);
      if (this.#seen.size >= this.#capacity) return false;
    }
    this.#seen.set(id, expiresAt);
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }
}
