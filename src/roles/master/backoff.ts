/** Restart delays: exponential, capped, with "equal jitter" (half fixed, half random). */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  /** A process that ran at least this long is considered healthy: the next delay starts over. */
  readonly stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 250, maxMs: 30_000, stableMs: 30_000 });

/** Delay before restart number `attempt` (0-based); `random` in [0,1) is injectable for tests. */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
