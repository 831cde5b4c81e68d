/**
 * Anti-replay sliding window, RFC 6479 (as in WireGuard's replay.go and the Linux kernel): a ring
 * of 32-bit blocks; advancing the window clears whole blocks, so each check is O(1) amortised.
 * Counters are JS numbers (exact below 2^53). Not safe for concurrent use; one per keypair.
 */

/* Implementation constants */
const BLOCK_BITS = 32;
const RING_BLOCKS = 256; // power of two
/** Counters more than this far behind the highest seen are rejected. */
export const REPLAY_WINDOW_SIZE = (RING_BLOCKS - 1) * BLOCK_BITS; // 8160

export class ReplayFilter {
  #last = 0;
  readonly #ring = new Uint32Array(RING_BLOCKS);

  /** Forgets everything (a new keypair starts from here). */
  reset(): void {
    this.#last = 0;
    this.#ring.fill(0);
  }

  /** Highest counter accepted so far (0 when none). */
  get last(): number {
    return this.#last;
  }

  /**
   * True when `counter` is below `limit`, not older than the window and not seen before; records
   * it. Call only AFTER the message authenticated, or a forger could advance the window.
   */
  validate(counter: number, limit: number): boolean {
    if (!(counter >= 0 && counter < limit)) return false;
    const ring = this.#ring;
    const blockIndex = Math.floor(counter / BLOCK_BITS);
    if (counter > this.#last) {
      const current = Math.floor(this.#last / BLOCK_BITS);
      const diff = Math.min(blockIndex - current, RING_BLOCKS);
      for (let i = 1; i <= diff; i++) ring[(current + i) % RING_BLOCKS] = 0;
      this.#last = counter;
    } else if (this.#last - counter > REPLAY_WINDOW_SIZE) {
      return false;
    }
    const slot = blockIndex % RING_BLOCKS;
    const bit = 1 << (counter % BLOCK_BITS);
    const old = ring[slot]!;
    if ((old & bit) !== 0) return false;
    ring[slot] = old | bit;
    return true;
  }
}
