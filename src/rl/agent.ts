/**
 * The per-node path agent: a source-routed, discounted lower-confidence-bound path bandit
 * (research/rl.md §0, README.md). It knows only this node's own measurements and what its neighbours
 * publish; time comes in as arguments and randomness from a seeded PRNG, so a run is reproducible.
 *
 * The node calls, in any order:
 *   onLinkUp / onLinkDown        link sessions to neighbours come and go
 *   onNeighbourSummary(s, now)   a neighbour's published summary arrived (hostile until checked)
 *   choose(dest, now)            before sending: the active path and the standby (cheap, no allocation)
 *   noteSent(dest, pathId, now)  data left on a path (sampled is fine)
 *   observe(o, now)              probe replies, data acks, path failures, finished builds
 *   suggestNextHop(...)          another node's build asks this node for the next hop
 *   dueTrains / observeTrain     optional: burst trains on paths data wants (burst.ts)
 *   tick(now)                    every ~100 ms: returns the actions to carry out
 */
import type { TrainResult } from "./burst.ts";
import { type AgentParams, DEFAULT_PARAMS } from "./constants.ts";
import { DistanceTable } from "./distance-table.ts";
import { LinkState } from "./links.ts";
import { DestState, type PathRow } from "./path-row.ts";
import { type Rng, Sfc32 } from "./rng.ts";
import { buildStats, RouteBook } from "./route-book.ts";
import { checkSummary } from "./summary.ts";
import { CLAIM_SLACK_MS, evidence, Suspicion } from "./suspicion.ts";
import type {
  Action,
  Choice,
  Hops,
  LinkRow,
  NextHop,
  NodeId,
  Observation,
  RouteRow,
  Snapshot,
  Summary,
} from "./types.ts";

/** The triangle bound on a neighbour's claim to another neighbour is multiplied by this. */
const TRIANGLE_LOOSENESS = 0.5;
const NO_NODES: ReadonlySet<NodeId> = new Set();

export interface AgentOptions {
  readonly self: NodeId;
  readonly seed: number;
  readonly params?: Partial<AgentParams>;
}

export class Agent {
  readonly self: NodeId;
  readonly params: AgentParams;
  readonly stats = buildStats();
  private readonly rng: Rng;
  private readonly table: DistanceTable;
  private readonly links = new Map<NodeId, LinkState>();
  /** The lowest RTT measured on each neighbour link (its floor: queues and busy hosts only add). */
  private readonly floors = new Map<NodeId, number>();
  /** Relays whose build answers contradicted measurements: avoided in builds, claims ignored. */
  private readonly suspicion: Suspicion;
  /** Neighbours whose claims contradict this node's link measurements: their claims are ignored. */
  private readonly implausible: Suspicion;
  private readonly book: RouteBook;
  private seq = 0;
  private lastPublishAt = Number.NEGATIVE_INFINITY;
  private nextHeartbeatAt = 0;
  private nextTrustCheckAt = 0;
  private suspectedCache: NodeId[] = [];
  private suspectedUntil = Number.NEGATIVE_INFINITY;
  /** No link is due for a probe before this (−∞: look; a link event may have changed that). */
  private linkProbeDueAt = Number.NEGATIVE_INFINITY;

  constructor(opts: AgentOptions) {
    this.self = opts.self;
    this.params = Object.freeze({ ...DEFAULT_PARAMS, ...opts.params });
    this.rng = new Sfc32(opts.seed);
    this.table = new DistanceTable(this.self, this.params.hopCap, this.params.summaryChange);
    this.suspicion = new Suspicion(this.params.suspicionHalfLifeMs, this.params.suspicionLimit);
    this.implausible = new Suspicion(this.params.suspicionHalfLifeMs, this.params.suspicionLimit);
    this.book = new RouteBook(this.self, this.params, this.rng, this.table, this.suspicion, this.stats);
  }

  /* ---- links ---- */

  /** A link session to neighbour `n` is up; `rttMs` is the handshake RTT if known. */
  onLinkUp(n: NodeId, now: number, rttMs?: number): void {
    if (n === this.self) return;
    let link = this.links.get(n);
    if (!link) {
      link = new LinkState(n);
      this.links.set(n, link);
    }
    const before = this.book.wantedEstimates(now);
    link.up = true;
    this.book.linkUp(n);
    link.fails = 0;
    if (rttMs !== undefined && rttMs > 0) this.linkSample(link, rttMs, now);
    const ms = link.costMs();
    this.table.addNeighbour(n, Number.isNaN(ms) ? this.typicalLinkMs() : ms, now);
    link.nextProbeAt = now;
    this.linkProbeDueAt = Number.NEGATIVE_INFINITY;
    this.book.claimsImproved(before, now);
    this.book.push({ type: "requestSummary", neighbour: n });
  }

  onLinkDown(n: NodeId, now: number): void {
    const link = this.links.get(n);
    if (!link?.up) return;
    link.up = false;
    this.table.removeNeighbour(n);
    this.book.linkDown(n, now);
  }

  /* ---- claims ---- */

  /** A neighbour's summary. Returns false if it was malformed, not from an up neighbour, or a replay. */
  onNeighbourSummary(s: Summary, now: number): boolean {
    try {
      checkSummary(s);
    } catch {
      this.stats.badSummaries++;
      return false;
    }
    const from = this.links.get(s.origin);
    if (!from?.up) return false;
    const before = this.book.wantedEstimates(now);
    if (!this.table.apply(s, now)) return false;
    this.checkPlausible(from, now);
    this.book.claimsImproved(before, now);
    return true;
  }

  /**
   * Claims a neighbour makes about this node and about this node's other neighbours can be checked
   * against this node's own link measurements: a neighbour cannot reach this node much faster than
   * the link between them, nor reach another neighbour M much faster than rtt(M) − rtt(it) (the
   * triangle bound, loosened for triangle-inequality violations). A liar claiming low costs to
   * everything fails the first check at once; subtler lies are caught by the build checks.
   *
   * Two different hosts' measurements are compared here, so noise is allowed for three ways:
   *  - the bounds use the lowest RTT measured on a link (its floor), not the mean: a busy host or a
   *    queue only ever adds delay, so a mean taken in a busy minute bounds nothing an honest
   *    neighbour measured in a quiet one;
   *  - the same discrepancy seen in summary after summary is one piece of evidence (`raise`), not
   *    one per summary: only a gross one (8× below the tolerance) is a verdict;
   *  - the verdict is that the neighbour's claims are ignored, nothing more. A claim is not a
   *    measurement, so it cannot prove the neighbour a bad relay: it stays a first hop that builds
   *    may try, and data uses a path through it only if the path's own measurements say so. (On a
   *    ring under heavy load, an honest neighbour's 3 ms claim met a 16 ms link mean, summary after
   *    summary, until both neighbours were avoided and the node had no route left.)
   */
  private checkPlausible(from: LinkState, now: number): void {
    const viaMs = from.costMs();
    if (Number.isNaN(viaMs) || !this.params.measure) return;
    const tol = this.params.claimTolerance;
    let worst = 0;
    const check = (claim: number, bound: number) => {
      if (bound > 0 && claim < tol * bound - CLAIM_SLACK_MS)
        worst = Math.max(worst, evidence(claim, bound, tol));
    };
    check(this.table.claimToSelf(from.id), this.floorMs(from.id));
    for (const m of this.links.values()) {
      if (m === from || !m.up) continue;
      check(this.table.claim(from.id, m.id), TRIANGLE_LOOSENESS * (this.floorMs(m.id) - viaMs));
    }
    if (worst === 0) return;
    this.implausible.raise(from.id, now, worst);
    if (this.implausible.suspected(from.id, now)) this.table.setUsable(from.id, false);
  }

  /** This node's full summary (answer to a neighbour's `requestSummary`). */
  summary(): Summary {
    return this.table.snapshotSummary(++this.seq);
  }

  /** Another node's build asks: which hop after this one towards `dest`, avoiding `visited` and `avoid`? */
  suggestNextHop(
    dest: NodeId,
    visited: readonly NodeId[],
    avoid: readonly NodeId[],
    now: number,
  ): NextHop | null {
    if (dest === this.self) return null;
    const suspected = this.suspectedNow(now).filter((n) => n !== dest);
    const hopsLeft = this.params.hopCap - (visited.length - 1);
    const r = this.table.bestNext(
      dest,
      visited,
      hopsLeft,
      avoid.length > 0 ? [...avoid, ...suspected] : suspected,
    );
    return r ? { next: r[0], claimMs: r[1] } : null;
  }

  /** The suspected nodes, cached for a second (asked on every build extension). */
  private suspectedNow(now: number): NodeId[] {
    if (now >= this.suspectedUntil) {
      this.suspectedCache = this.suspicion.list(now, 32);
      this.suspectedUntil = now + 1_000;
    }
    return this.suspectedCache;
  }

  /* ---- data plane ---- */

  choose(dest: NodeId, now: number): Choice {
    return this.book.demand(dest, now).choice;
  }

  noteSent(dest: NodeId, pathId: number, now: number): void {
    this.book.noteSent(dest, pathId, now);
  }

  /** `choose` and `noteSent` in one: a packet to `dest` leaves now on the returned path. */
  send(dest: NodeId, now: number): Choice {
    return this.book.send(dest, now).choice;
  }

  /** `observe({ type: "ack", … })` without the object: data sent at `sentAt` on `pathId` was acked. */
  ack(pathId: number, sentAt: number, rttMs: number, now: number): void {
    this.book.ack(pathId, sentAt, rttMs, now);
  }

  observe(o: Observation, now: number): void {
    switch (o.type) {
      case "probeReply": {
        const link = this.book.takeLinkProbe(o.probeId);
        if (link !== undefined) {
          const l = this.links.get(link);
          if (l) {
            l.probeInFlight = false;
            this.linkProbeDueAt = Number.NEGATIVE_INFINITY;
            l.fails = 0;
            this.linkSample(l, o.rttMs, now);
          }
        } else this.book.probeReply(o.probeId, o.rttMs, now);
        return;
      }
      case "ack":
        this.book.ack(o.pathId, o.sentAt, o.rttMs, now);
        return;
      case "pathFailed":
        this.book.pathFailed(o.pathId, now);
        return;
      case "built":
        this.book.built(o.buildId, o.hops, o.prefixRttMs, o.claimsMs, now);
        return;
      case "buildFailed":
        this.book.buildFailed(o.buildId, now);
        return;
    }
  }

  /**
   * Paths due for a train (burst.ts), for nodes that can send one: send TRAIN_PACKETS probes back to
   * back on each and report with `observeTrain`. A node that never calls this keeps RTT-only costs.
   */
  dueTrains(now: number): { pathId: number; hops: Hops }[] {
    return this.book.dueTrains(now);
  }

  /** The echoes of a train on `pathId` (a train that could not be sent: `sent` 0). */
  observeTrain(pathId: number, t: TrainResult, now: number): void {
    this.book.train(pathId, t, now);
  }

  /* ---- time ---- */

  tick(now: number): readonly Action[] {
    const p = this.params;
    for (const link of this.book.expiredLinkProbes(now)) {
      const l = this.links.get(link);
      if (l) {
        l.probeInFlight = false;
        l.fails++;
        this.linkProbeDueAt = Number.NEGATIVE_INFINITY;
      }
    }
    if (now >= this.linkProbeDueAt) {
      let next = Number.POSITIVE_INFINITY;
      for (const l of this.links.values()) {
        if (!l.up || l.probeInFlight) continue;
        if (now < l.nextProbeAt) {
          next = Math.min(next, l.nextProbeAt);
          continue;
        }
        l.probeInFlight = true;
        l.nextProbeAt = now + jitterMs(this.rng, p.linkProbeMs, p.timerJitter);
        this.book.linkProbe(l.id, now, Math.max(p.probeTimeoutFloorMs, 3 * (l.rtt.srtt || 100)));
      }
      this.linkProbeDueAt = next;
    }
    if (now >= this.nextTrustCheckAt) {
      this.nextTrustCheckAt = now + 5_000;
      for (const l of this.links.values()) {
        if (!l.up) continue;
        this.table.setUsable(l.id, this.trusted(l.id, now));
        if (now - this.table.lastHeard(l.id) > p.summaryExpiryMs) this.table.expireClaims(l.id);
      }
    }
    this.book.tick(now);
    const due = this.table.publishDue(now - this.lastPublishAt, p.summaryMinGapMs);
    if (due || now >= this.nextHeartbeatAt) {
      this.lastPublishAt = now;
      this.nextHeartbeatAt = now + jitterMs(this.rng, p.summaryHeartbeatMs, p.timerJitter);
      this.stats.publishes++;
      this.book.push({ type: "publish", summary: this.table.takeSummary(++this.seq, false) });
    }
    return this.book.drain();
  }

  /* ---- persistence ---- */

  /** Rows changed since the last call (write-behind), rows retired since, and changed link rows. */
  takeChanges(): { routes: RouteRow[]; retired: { dest: NodeId; hops: Hops }[]; links: LinkRow[] } {
    const links: LinkRow[] = [];
    for (const l of this.links.values()) {
      if (!l.dirty || l.est.nEff === 0) continue;
      l.dirty = false;
      links.push({
        neighbour: l.id,
        srtt: l.est.mu,
        rttvar: l.est.variance,
        nEff: l.est.nEff,
        lastMs: l.est.lastAt,
      });
    }
    return { ...this.book.takeChanges(), links };
  }

  /** Restores rows loaded (and already aged) by the store; stored paths are rebuilt when wanted. */
  importRows(routes: readonly RouteRow[], links: readonly LinkRow[], now: number): void {
    for (const r of links) {
      if (r.neighbour === this.self) continue;
      const l = this.links.get(r.neighbour) ?? new LinkState(r.neighbour);
      l.est.restore(r.srtt, r.rttvar, r.nEff, now); // the store already aged it
      l.rtt.add(r.srtt);
      this.links.set(r.neighbour, l);
    }
    this.linkProbeDueAt = Number.NEGATIVE_INFINITY;
    this.book.importRoutes(routes, now);
  }

  /* ---- introspection ---- */

  snapshot(now: number): Snapshot {
    return {
      self: this.self,
      now,
      neighbours: [...this.links.values()].map((l) => ({
        id: l.id,
        up: l.up,
        rttMs: l.costMs(),
        suspicion: this.suspicion.value(l.id, now),
      })),
      destinations: this.book.views(now),
      knownDestinations: this.table.destinations,
    };
  }

  /** The active path row for a destination (simulator and tests). */
  activeRow(dest: NodeId): PathRow | null {
    return this.book.dest(dest)?.active ?? null;
  }

  destState(dest: NodeId): DestState | undefined {
    return this.book.dest(dest);
  }

  /** True while this node has a usable link session to `n` (its claims are in the table). */
  hasNeighbour(n: NodeId): boolean {
    return this.links.get(n)?.up === true;
  }

  /** What this node would advertise for `dest` (ms, Infinity if unknown). */
  advertised(dest: NodeId): number {
    return this.table.estimate(dest);
  }

  /** What this node currently advertises, as a full summary (introspection: nothing is published). */
  advertisedSummary(): Summary {
    return this.table.snapshotSummary(this.seq);
  }

  /** The usable neighbours' claims towards `dest` (link RTT + claim, ms), best first (introspection). */
  claimsTo(dest: NodeId): [NodeId, number][] {
    return this.table.rank(dest, NO_NODES);
  }

  suspicionOf(n: NodeId, now: number): number {
    return this.suspicion.value(n, now);
  }

  /** How implausible neighbour `n`'s claims are against this node's links (its claims are ignored at the limit). */
  implausibilityOf(n: NodeId, now: number): number {
    return this.implausible.value(n, now);
  }

  /** Whether neighbour `n`'s claims are used (neither its claims nor its build answers were caught lying). */
  private trusted(n: NodeId, now: number): boolean {
    return !this.suspicion.suspected(n, now) && !this.implausible.suspected(n, now);
  }

  /* ---- internals ---- */

  private linkSample(l: LinkState, rttMs: number, now: number): void {
    this.floors.set(l.id, Math.min(this.floors.get(l.id) ?? rttMs, rttMs));
    l.rtt.add(rttMs);
    l.est.add(rttMs, now, this.params.discountHalfLifeMs, this.params.maxWeight);
    l.dirty = true;
    if (l.up && this.table.hasNeighbour(l.id)) {
      this.table.setLinkCost(l.id, l.est.mu, this.params.linkCostHysteresis);
    }
  }

  /** The lowest RTT measured on the link to `n` (NaN if never measured). */
  private floorMs(n: NodeId): number {
    return this.floors.get(n) ?? Number.NaN;
  }

  private typicalLinkMs(): number {
    let sum = 0;
    let n = 0;
    for (const l of this.links.values()) {
      const ms = l.costMs();
      if (!Number.isNaN(ms)) {
        sum += ms;
        n++;
      }
    }
    return n > 0 ? sum / n : 50;
  }
}

export function jitterMs(rng: Rng, ms: number, f: number): number {
  return ms * (1 - f + 2 * f * rng.next());
}

export { DestState };
