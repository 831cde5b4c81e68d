/** Why a received control message was dropped. The receive path never throws; it counts. */
export const DropReason = {
  /** Bad signature, a signature out of context (wrong subject/topic), or a seal that does not open. */
  Forged: "forged",
  /** A (sender, nonce) seen before within its lifetime. */
  Replayed: "replayed",
  /** Past its expiry, or issued in the future beyond the allowed clock skew. */
  Expired: "expired",
  /** Not parseable, wrong version/kind/sizes, or a lifetime longer than allowed. */
  Malformed: "malformed",
  /** Sealed or addressed to another node. */
  NotForMe: "not-for-me",
  /** No verified public keys for the sender id. */
  UnknownSender: "unknown-sender",
  /** The sender exceeded its per-sender receive rate. */
  RateLimited: "rate-limited",
  /** The replay cache is full (a flood); the message cannot be checked, so it is refused. */
  Overloaded: "overloaded",
  /** The application handler threw. */
  HandlerError: "handler-error",
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export class DropCounters {
  readonly #counts = new Map<DropReason, number>();
  count(reason: DropReason): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
  }
  get(reason: DropReason): number {
    return this.#counts.get(reason) ?? 0;
  }
  total(): number {
    let n = 0;
    for (const v of this.#counts.values()) n += v;
    return n;
  }
  snapshot(): Record<DropReason, number> {
    const out = {} as Record<DropReason, number>;
    for (const r of Object.values(DropReason)) out[r] = this.get(r);
    return out;
  }
}
