/**
 * Tunables of the path agent. Names follow research/rl.md §3; every value here was exercised by the
 * simulator (`bun run sim`), see README.md for the numbers.
 */

/* Path rules (DESIGN.md "Multi-hop paths") */
/** Most hops a path may have, counting the destination and not the source. */
export const HOP_CAP = 8;

/**
 * What one lost packet costs a flow beyond another RTT: a retransmission timeout (Linux TCP's
 * minimum RTO is 200 ms). Expected over the path's loss ratio p it adds p/(1 − p) × this to the
 * cost, so on a path of a few ms, 10 % loss weighs as it does for the flows, not as 10 % of 3 ms.
 */
export const LOSS_PENALTY_MS = 200;

/* Summary wire limits (hostile input bounds) */
/** Costs travel as u16 in units of COST_UNIT_MS (0.1 ms .. 6.5 s); UNREACHABLE marks a withdrawal. */
export const COST_UNIT_MS = 0.1;
export const UNREACHABLE = 0xffff;
/** Most entries one summary may carry (one per destination in the realm). */
export const SUMMARY_MAX_ENTRIES = 65_535;

export interface AgentParams {
  /* Candidates */
  hopCap: number;
  /** Most built paths kept per destination (active + standby + challengers). */
  maxCandidates: number;
  /** Builds are requested while fewer healthy candidates than this exist. */
  targetCandidates: number;
  /** Share of builds whose first hop is a random reachable neighbour instead of the best-ranked. */
  randomBuildShare: number;

  /* Estimates (discounted) */
  /** n_eff halves every this many ms without samples (D-LCB discount, CQ-routing confidence decay). */
  discountHalfLifeMs: number;
  /** The learning rate never falls below 1 / maxWeight. */
  maxWeight: number;
  /** The same for the burst estimate (burst.ts): a capacity change must show within a few trains. */
  burstMaxWeight: number;

  /* Exploration: probes only */
  /** β of the lower confidence bound μ − β·s·√(ln N / n). */
  lcbBeta: number;
  /** Period of standby probes (the standby must be live for sub-second failover). */
  standbyProbeMs: number;
  /** Period of challenger probes per active destination. */
  challengerProbeMs: number;
  /** How often the claims are checked for a cheaper route than any built path (a "hint" build). */
  hintBuildMs: number;
  /** Fresh paths are probed this often until they have minSamples samples ("verify with 3 probes"). */
  freshProbeMs: number;
  /** Share of challenger probes that go to a random candidate instead of the lowest bound. */
  randomProbeShare: number;
  /** ± fraction applied to every timer (Floyd & Jacobson). */
  timerJitter: number;
  /** A probe with no reply after max(floor, 3·srtt) is lost. */
  probeTimeoutFloorMs: number;

  /* Switching and damping */
  /** Move data from i to j only if ucb_j < (1 − margin)·cost_i ... */
  switchMargin: number;
  /** ... j has this many samples ... */
  minSamples: number;
  /** ... and i has been active this long. Failures bypass all three. */
  minDwellMs: number;

  /* Failure detection */
  /** Suspect the active path after max(floor, 2·srtt + 4·rttvar + send gap) of unacked data. */
  suspectFloorMs: number;
  /** Consecutive failures that retire a path. */
  retireFailures: number;
  /** Non-active paths costing more than this × the best for degradeMs are retired. */
  degradeFactor: number;
  degradeMs: number;
  /** Paths live this long (± jitter), then are rotated make-before-break. */
  pathLifetimeMs: number;
  /** A destination with no traffic for this long stops being probed. */
  idleDestMs: number;

  /* Links and summaries */
  /** Period of the RTT probe on each neighbour link. */
  linkProbeMs: number;
  /** A link cost change smaller than this fraction is not propagated to the distance table. */
  linkCostHysteresis: number;
  /** A summary is published at most this often (triggered) ... */
  summaryMinGapMs: number;
  /** ... and at least this often (heartbeat). */
  summaryHeartbeatMs: number;
  /** A destination whose best cost moved by less than this fraction is not re-advertised. */
  summaryChange: number;
  /** A neighbour's summary is forgotten this long after its last message. */
  summaryExpiryMs: number;

  /* Trust: measure, don't trust */
  /** A hop whose claim is below this × what the next hop's claim and the measured RTT imply is inconsistent. */
  claimTolerance: number;
  /** Suspicion at which a node is avoided in builds and its claims ignored. */
  suspicionLimit: number;
  /** Suspicion halves every this many ms. */
  suspicionHalfLifeMs: number;
  /** If false, choose by advertised cost (ablation "trust gossip"); never in production. */
  measure: boolean;
  /** If false, no hot standby is kept (ablation). */
  standby: boolean;
  /** If false, switch to any better estimate at once (ablation "no hysteresis"). */
  hysteresis: boolean;
}

export const DEFAULT_PARAMS: Readonly<AgentParams> = Object.freeze({
  hopCap: HOP_CAP,
  maxCandidates: 6,
  targetCandidates: 3,
  randomBuildShare: 0.1,

  discountHalfLifeMs: 60_000,
  maxWeight: 20,
  burstMaxWeight: 4,

  lcbBeta: 1.5,
  standbyProbeMs: 8_000,
  challengerProbeMs: 20_000,
  hintBuildMs: 5_000,
  freshProbeMs: 400,
  randomProbeShare: 0.05,
  timerJitter: 0.25,
  probeTimeoutFloorMs: 1_000,

  switchMargin: 0.1,
  minSamples: 3,
  minDwellMs: 10_000,

  suspectFloorMs: 250,
  retireFailures: 3,
  degradeFactor: 2,
  degradeMs: 300_000,
  pathLifetimeMs: 30 * 60_000,
  idleDestMs: 60_000,

  linkProbeMs: 60_000,
  linkCostHysteresis: 0.1,
  summaryMinGapMs: 1_000,
  summaryHeartbeatMs: 30_000,
  summaryChange: 0.1,
  summaryExpiryMs: 120_000,

  claimTolerance: 0.7,
  suspicionLimit: 3,
  suspicionHalfLifeMs: 15 * 60_000,
  measure: true,
  standby: true,
  hysteresis: true,
});

/* Persistence (research/rl.md §3 "Persistence") */
/** On load, n_eff halves per this much age. */
export const STORE_DECAY_HALF_LIFE_MS = 10 * 60_000;
/** On load, variance grows by κ·μ² per half-life of age (the standard deviation by ~0.25·μ per half-life). */
export const STORE_VARIANCE_GROWTH = 0.0625;
/** Rows older than this are dropped on load. */
export const STORE_MAX_AGE_MS = 24 * 3_600_000;
/** Schema version of the sqlite file; any other value is a foreign file and is moved aside. */
export const STORE_SCHEMA_VERSION = 1;
