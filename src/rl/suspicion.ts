/**
 * Measure, don't trust. A build tells the source, for every hop, the RTT measured up to it and the
 * remaining cost the hop claimed. A hop whose claim is far below what the measured RTT to the next hop
 * plus that hop's own claim imply is inconsistent: it advertises a cost it cannot carry. Suspicion
 * grows by 1 per inconsistency, up to MAX_EVIDENCE for a gross one, and halves every half-life; at the
 * limit the node is avoided in builds and, if it is a neighbour, its claims are ignored at once.
 */
import type { Hops, NodeId } from "./types.ts";

/** Claims within this many ms of the implied cost are never inconsistent (timer noise). */
export const CLAIM_SLACK_MS = 2;
/** Most suspicion one observation can add: a gross lie (claim ≪ implied) is proof enough at once. */
export const MAX_EVIDENCE = 3;

/** Suspicion from one inconsistency: 1 at the tolerance, growing with log2 of how far below it. */
export function evidence(claimMs: number, impliedMs: number, tolerance: number): number {
  const r = (tolerance * impliedMs) / Math.max(claimMs, 0.1);
  return Math.min(MAX_EVIDENCE, Math.max(1, Math.log2(r)));
}

export class Suspicion {
  private readonly score = new Map<NodeId, { v: number; at: number }>();

  constructor(
    private readonly halfLifeMs: number,
    private readonly limit: number,
  ) {}

  value(n: NodeId, now: number): number {
    const s = this.score.get(n);
    if (!s) return 0;
    return s.v * 2 ** (-Math.max(0, now - s.at) / this.halfLifeMs);
  }

  add(n: NodeId, now: number, amount = 1): void {
    this.score.set(n, { v: this.value(n, now) + amount, at: now });
  }

  /**
   * Raises the score to at least `level` (never lowers it): evidence that is re-checked on every
   * message, such as a neighbour's claims against this node's links, counts once however often the
   * same discrepancy is seen again, so measurement noise that recurs never adds up to a verdict.
   */
  raise(n: NodeId, now: number, level: number): void {
    if (level > this.value(n, now)) this.score.set(n, { v: level, at: now });
  }

  suspected(n: NodeId, now: number): boolean {
    return this.value(n, now) >= this.limit;
  }

  /** The suspected nodes (at most `max`, most suspicious first); forgets scores that decayed away. */
  list(now: number, max: number): NodeId[] {
    const out: [NodeId, number][] = [];
    for (const [n, s] of this.score) {
      const v = s.v * 2 ** (-Math.max(0, now - s.at) / this.halfLifeMs);
      if (v < 0.05) this.score.delete(n);
      else if (v >= this.limit) out.push([n, v]);
    }
    out.sort((a, b) => b[1] - a[1]);
    return out.slice(0, max).map((e) => e[0]);
  }
}

/**
 * Hops whose claims contradict the measurement of a just-built path (see the file comment).
 * `firstClaimMs` is what the first hop advertised in its summary (NaN if unknown); `claimsMs[i]` what
 * hops[i] said when asked for the next hop (NaN if not asked).
 */
export function inconsistentHops(
  hops: Hops,
  prefixRttMs: readonly number[],
  claimsMs: readonly number[],
  firstClaimMs: number,
  tolerance: number,
): [NodeId, number][] {
  const out: [NodeId, number][] = [];
  const k = hops.length;
  for (let i = 0; i < k - 1; i++) {
    const hopRtt = prefixRttMs[i + 1]! - prefixRttMs[i]!;
    const nextClaim = i + 1 === k - 1 ? 0 : claimsMs[i + 1]!;
    if (!Number.isFinite(hopRtt) || Number.isNaN(nextClaim)) continue;
    const implied = Math.max(0, hopRtt) + nextClaim;
    const claims = i === 0 ? [claimsMs[0]!, firstClaimMs] : [claimsMs[i]!];
    let worst = Number.POSITIVE_INFINITY;
    for (const c of claims) if (!Number.isNaN(c)) worst = Math.min(worst, c);
    if (worst < tolerance * implied - CLAIM_SLACK_MS)
      out.push([hops[i]!, evidence(worst, implied, tolerance)]);
  }
  return out;
}
