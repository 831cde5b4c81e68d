/**
 * The agent's vocabulary: what the node tells it (observations), what it asks the node to do (actions),
 * what it publishes (summaries) and what it shows (snapshots).
 *
 * `NodeId` is a realm-unique small integer (the node's overlay IPv4 host number, assigned by Guardian),
 * so summaries stay compact. Times are milliseconds on a clock the caller passes in; the node passes
 * wall-clock milliseconds so persisted ages survive restarts, the simulator passes simulated time.
 */

export type NodeId = number;

/** A path from this node: the hops after the source, the last one being the destination. */
export type Hops = readonly NodeId[];

/** What the data plane should use for a destination; the same object is reused until the choice changes. */
export interface Choice {
  readonly dest: NodeId;
  /** Path id of the active path, or -1 when there is none yet (packets wait or drop). */
  readonly pathId: number;
  readonly path: Hops | null;
  /** A built, probed, preferably node-disjoint path to fail over to. */
  readonly standbyId: number;
  readonly standby: Hops | null;
}

/* ---- observations: node → agent ---- */

export type Observation =
  /** Reply to a `linkProbe` or `pathProbe` action. */
  | { readonly type: "probeReply"; readonly probeId: number; readonly rttMs: number }
  /** An end-to-end acknowledgement of data sent on `pathId` at `sentAt`. */
  | { readonly type: "ack"; readonly pathId: number; readonly sentAt: number; readonly rttMs: number }
  /** The session inside the path failed, or a hop tore the path down. */
  | { readonly type: "pathFailed"; readonly pathId: number }
  /** A `build` completed. `prefixRttMs[i]` is the RTT to hops[i]; `claimsMs[i]` is what hops[i] claimed
   *  its remaining cost to the destination was when it chose hops[i + 1] (NaN if not asked). */
  | {
      readonly type: "built";
      readonly buildId: number;
      readonly hops: Hops;
      readonly prefixRttMs: readonly number[];
      readonly claimsMs: readonly number[];
    }
  | { readonly type: "buildFailed"; readonly buildId: number };

/* ---- actions: agent → node (returned by tick) ---- */

export type Action =
  /** Measure the RTT of the link session to a neighbour; answer with `probeReply`. */
  | { readonly type: "linkProbe"; readonly probeId: number; readonly neighbour: NodeId }
  /** Send a probe over a built path (padded and encrypted exactly like data); answer with `probeReply`. */
  | { readonly type: "pathProbe"; readonly probeId: number; readonly pathId: number; readonly hops: Hops }
  /** Telescope a new path. With `hops`, extend through exactly those hops, sending the extensions
   *  back to back (pipelined: done in one path RTT); otherwise extend to `firstHop` and ask each new
   *  hop `suggestNextHop(dest, visited, avoid)` for the next one (one RTT per hop). */
  | {
      readonly type: "build";
      readonly buildId: number;
      readonly dest: NodeId;
      readonly firstHop: NodeId;
      readonly hops: Hops | null;
      readonly avoid: readonly NodeId[];
    }
  /** Tear a path down (retired, rotated or failed). */
  | { readonly type: "retire"; readonly pathId: number; readonly hops: Hops }
  /** Data for `dest` moves to `pathId` (failover, better path, rotation). */
  | {
      readonly type: "switch";
      readonly dest: NodeId;
      readonly fromId: number;
      readonly pathId: number;
      readonly reason: SwitchReason;
    }
  /** Publish this summary (through Master, to the neighbours subscribed to this node). */
  | { readonly type: "publish"; readonly summary: Summary }
  /** Ask a neighbour for its full summary (on a new link session). */
  | { readonly type: "requestSummary"; readonly neighbour: NodeId };

export type SwitchReason = "first" | "failover" | "better" | "rotation" | "lost";

/** A hop's answer to a build extension: the next hop and its claimed remaining RTT to `dest`. */
export interface NextHop {
  readonly next: NodeId;
  readonly claimMs: number;
}

/* ---- summaries: the bounded signal a node publishes ---- */

/**
 * "I reach `dests[i]` at RTT `costs[i]` × COST_UNIT_MS through `hops[i]` hops, first hop `vias[i]`."
 * `costs[i] === UNREACHABLE` withdraws the destination. A full summary replaces what the receiver
 * knew from `origin`; a delta updates it. `seq` increases per origin, so replays are dropped.
 */
export interface Summary {
  readonly origin: NodeId;
  readonly seq: number;
  readonly full: boolean;
  readonly dests: Uint32Array;
  readonly costs: Uint16Array;
  readonly hops: Uint8Array;
  readonly vias: Uint32Array;
}

/* ---- persistence rows ---- */

export interface RouteRow {
  readonly dest: NodeId;
  readonly hops: Hops;
  readonly mu: number;
  readonly variance: number;
  readonly nEff: number;
  readonly loss: number;
  /** Time of the last sample on the caller's clock. */
  readonly lastMs: number;
}

export interface LinkRow {
  readonly neighbour: NodeId;
  readonly srtt: number;
  readonly rttvar: number;
  readonly nEff: number;
  readonly lastMs: number;
}

/* ---- snapshot for `veilnet routes` ---- */

export interface PathView {
  readonly pathId: number;
  readonly hops: Hops;
  readonly state: PathState;
  readonly costMs: number;
  readonly rttMs: number;
  readonly sdMs: number;
  readonly loss: number;
  readonly samples: number;
  readonly ageMs: number;
  readonly lastOkAgoMs: number;
}

export type PathState = "fresh" | "candidate" | "active" | "standby" | "suspect";

export interface DestView {
  readonly dest: NodeId;
  readonly activeId: number;
  readonly standbyId: number;
  readonly activeForMs: number;
  readonly advertisedMs: number;
  readonly candidates: readonly PathView[];
}

export interface Snapshot {
  readonly self: NodeId;
  readonly now: number;
  readonly neighbours: readonly {
    readonly id: NodeId;
    readonly up: boolean;
    readonly rttMs: number;
    readonly suspicion: number;
  }[];
  readonly destinations: readonly DestView[];
  readonly knownDestinations: number;
}
