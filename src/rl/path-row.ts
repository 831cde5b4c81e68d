/**
 * One built path to one destination and everything measured on it (research/rl.md §3 "Row"), plus the
 * per-destination state that groups the rows.
 */
import { BurstEstimate } from "./burst.ts";
import { type AgentParams, LOSS_PENALTY_MS } from "./constants.ts";
import { Estimate, LossRatio, SmoothedRtt } from "./estimate.ts";
import type { Choice, Hops, NodeId, PathState } from "./types.ts";

export class PathRow {
  state: PathState = "fresh";
  readonly est = new Estimate();
  readonly rtt = new SmoothedRtt();
  readonly loss = new LossRatio();
  /** Drain time of a burst (burst.ts): sampled only by nodes that send trains. */
  readonly burst = new BurstEstimate();
  /** When this path's next train is due (burst.ts), and whether one is out. */
  nextTrainAt = 0;
  trainInFlight = false;
  /** Consecutive failures (probe timeouts, unacked data, session failures). */
  fails = 0;
  lastOkAt = Number.NEGATIVE_INFINITY;
  nextProbeAt = 0;
  probeInFlight = false;
  /** Back-off of a suspect path's re-probes, ms. */
  backoffMs = 1_000;
  degradedSince = Number.NaN;
  rotating = false;
  /** Only the build's RTT is known yet (route-state.ts firstSample). */
  provisional = false;
  /** A stored estimate waiting for the first sample to confirm it (warm start). */
  inherit: { mu: number; variance: number; nEff: number; lastAt: number } | null = null;
  /** The μ stored for these hops when the row was rebuilt from the store (warm start), else NaN. */
  storedMu = Number.NaN;
  /** Set when a sample arrived since the store last took this row. */
  dirty = true;

  /* data-plane bookkeeping for the active path */
  lastSentAt = Number.NEGATIVE_INFINITY;
  firstUnackedAt = Number.NaN;
  sendGapMs = 100;

  constructor(
    readonly id: number,
    readonly dest: NodeId,
    readonly hops: Hops,
    readonly builtAt: number,
    readonly expiresAt: number,
  ) {}

  /**
   * Expected delivery time (rl.md §3 "Cost"): RTT inflated by loss, plus what a loss costs beyond
   * one more RTT (a retransmission timeout, LOSS_PENALTY_MS, per expected loss), plus half the
   * jitter, plus the drain time of a burst once trains have measured one (burst.ts).
   */
  cost(): number {
    if (this.est.nEff === 0) return Number.POSITIVE_INFINITY;
    const p = Math.min(this.loss.value(), 0.9);
    const c = this.est.mu / (1 - p) + (LOSS_PENALTY_MS * p) / (1 - p) + 0.5 * Math.sqrt(this.est.variance);
    return this.burst.nEff > 0 ? c + this.burst.mu : c;
  }

  healthy(): boolean {
    return this.state !== "suspect" && this.fails === 0 && this.est.nEff > 0;
  }

  /** How long unacked data may wait before the path is suspected. */
  suspectAfterMs(p: AgentParams): number {
    const srtt = this.rtt.srtt || this.est.mu;
    return Math.max(p.suspectFloorMs, 2 * srtt + 4 * this.rtt.rttvar + this.sendGapMs);
  }

  probeTimeoutMs(p: AgentParams): number {
    const srtt = this.rtt.srtt || this.est.mu;
    return Math.max(p.probeTimeoutFloorMs, 3 * srtt + 4 * this.rtt.rttvar);
  }

  /** The relays (hops other than the destination). */
  interior(): NodeId[] {
    return this.hops.slice(0, -1) as NodeId[];
  }

  sameHops(h: Hops): boolean {
    if (h.length !== this.hops.length) return false;
    for (let i = 0; i < h.length; i++) if (h[i] !== this.hops[i]) return false;
    return true;
  }
}

/** Relays shared by two paths (0 = node-disjoint). */
export function overlap(a: PathRow, b: PathRow): number {
  let n = 0;
  for (let i = 0; i < a.hops.length - 1; i++) {
    for (let j = 0; j < b.hops.length - 1; j++) if (a.hops[i] === b.hops[j]) n++;
  }
  return n;
}

export interface StoredRoute {
  readonly hops: Hops;
  readonly mu: number;
  readonly variance: number;
  readonly nEff: number;
  readonly loss: number;
  readonly lastMs: number;
  /** Builds of this route tried so far (warm start retries a few). */
  attempts: number;
}

export class DestState {
  readonly paths: PathRow[] = [];
  active: PathRow | null = null;
  standby: PathRow | null = null;
  activeSince = 0;
  /** False while the active path is simply the first one that answered (no comparison made yet). */
  activeChosen = false;
  lastDemand: number;
  nextChallengeAt = 0;
  nextBuildAt = 0;
  nextHintAt = 0;
  /** No train starts for this destination before this time (burst.ts). */
  nextTrainAt = 0;
  /** The claim that triggered the last hint build (not repeated unless the claims move). */
  lastHintFirst = -1;
  lastHintMs = Number.POSITIVE_INFINITY;
  nextMaintainAt = 0;
  buildBackoffMs = 500;
  buildsInFlight = 0;
  /** Routes restored from the store, rebuilt (explicit hops) when the destination is wanted. */
  stored: StoredRoute[] = [];
  nextStoredAt = 0;
  choice: Choice;
  /** Bumped whenever a row other than the active one changes, or the rows' roles do. */
  version = 0;
  /** policy.ts challengerFloor as of `version` (floorVersion −1: none). */
  challengerFloor = 0;
  floorVersion = -1;
  /** `version` when the standby was last looked at (route-book.ts). */
  standbyVersion = -1;

  constructor(
    readonly dest: NodeId,
    now: number,
  ) {
    this.lastDemand = now;
    this.choice = { dest, pathId: -1, path: null, standbyId: -1, standby: null };
  }

  refreshChoice(): void {
    const a = this.active;
    const s = this.standby;
    this.choice = {
      dest: this.dest,
      pathId: a ? a.id : -1,
      path: a ? a.hops : null,
      standbyId: s ? s.id : -1,
      standby: s ? s.hops : null,
    };
  }

  /** Total discounted samples over the rows (the N of the confidence bound). */
  totalWeight(now: number, halfLifeMs: number): number {
    let n = 0;
    for (const r of this.paths) n += r.est.weightAt(now, halfLifeMs);
    return n;
  }
}
