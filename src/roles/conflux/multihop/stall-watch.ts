/**
 * Node-side stall detection on a path that carries data, ahead of the agent's verdict. The agent
 * suspects the active path after `max(250 ms, 2·srtt + 4·rttvar + send gap)` of unacknowledged
 * data; on a loaded machine a JavaScript relay's event loop inflates srtt and rttvar to hundreds of
 * milliseconds, so that verdict can take seconds. Meanwhile every packet on a dead path is lost.
 *
 * A path is *stalled* once its oldest unacknowledged ACK_ASK is older than
 * `max(STALL_FLOOR_MS, STALL_RTT_FACTOR × the path's recent minimum ack RTT)`: the minimum, not the
 * mean, so that one slow period does not stretch the deadline. While a path is stalled the router
 * also sends each packet on the standby and on the path the peer last reached us over; duplicates
 * are harmless to IP, a gap is not. The switch itself stays the agent's decision.
 */

/* Implementation constants */
export const STALL_FLOOR_MS = 250;
export const STALL_RTT_FACTOR = 2;
/** Deadline while no ack RTT is known yet. */
export const STALL_DEFAULT_MS = 600;
/** The minimum ack RTT is forgotten after this long without a sample at or below it. */
const MIN_RTT_HOLD_MS = 10_000;
/** Outstanding asks remembered (a FIFO path acknowledges a prefix; older ones are dropped). */
const MAX_OUTSTANDING = 64;

export class StallWatch {
  readonly #asks: number[] = [];
  #minRtt = Number.POSITIVE_INFINITY;
  #minAt = Number.NEGATIVE_INFINITY;

  /** An ACK_ASK with this stamp left on the path. */
  asked(stamp: number): void {
    this.#asks.push(stamp);
    if (this.#asks.length > MAX_OUTSTANDING) this.#asks.shift();
  }

  /** An ACK for the ask stamped `stamp` came back after `rttMs`: that ask and every older one are done. */
  acked(stamp: number, rttMs: number, now: number): void {
    let k = 0;
    while (k < this.#asks.length && this.#asks[k]! <= stamp) k++;
    if (k > 0) this.#asks.splice(0, k);
    if (
      Number.isFinite(rttMs) &&
      rttMs > 0 &&
      (rttMs <= this.#minRtt || now - this.#minAt > MIN_RTT_HOLD_MS)
    ) {
      this.#minRtt = rttMs;
      this.#minAt = now;
    }
  }

  /** How long an ask may stay unacknowledged before the path counts as stalled. */
  deadlineMs(): number {
    if (!Number.isFinite(this.#minRtt)) return STALL_DEFAULT_MS;
    return Math.max(STALL_FLOOR_MS, STALL_RTT_FACTOR * this.#minRtt);
  }

  stalled(now: number): boolean {
    const oldest = this.#asks[0];
    return oldest !== undefined && now - oldest > this.deadlineMs();
  }
}
