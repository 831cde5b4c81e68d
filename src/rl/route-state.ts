/**
 * The state of the per-destination side of the agent: built paths, pending probes and builds, the
 * action outbox, and the primitive state changes (sample, failure, switch, retire) that route-book.ts
 * composes into policy. Persistence rows and `veilnet routes` views are read from here.
 */
import {
  burstMs,
  TRAIN_CHALLENGER_PERIOD_MS,
  TRAIN_GAP_MS,
  TRAIN_PERIOD_MS,
  type TrainResult,
} from "./burst.ts";
import type { AgentParams } from "./constants.ts";
import type { DistanceTable } from "./distance-table.ts";
import { DestState, type PathRow, type StoredRoute } from "./path-row.ts";
import { validPath } from "./path-rules.ts";
import { pickFailover, pickStandby } from "./policy.ts";
import type { Rng } from "./rng.ts";
import type { Suspicion } from "./suspicion.ts";
import type { Action, DestView, Hops, NodeId, RouteRow, SwitchReason } from "./types.ts";

export function buildStats() {
  return {
    linkProbes: 0,
    pathProbes: 0,
    builds: 0,
    buildFailures: 0,
    publishes: 0,
    switches: 0,
    failovers: 0,
    retired: 0,
    badSummaries: 0,
    refusedPaths: 0,
  };
}
export type AgentStats = ReturnType<typeof buildStats>;

export interface PendingBuild {
  readonly ds: DestState;
  readonly firstHop: NodeId;
  readonly explicit: Hops | null;
  readonly timeoutAt: number;
  readonly firstClaimMs: number;
  readonly inherit: StoredRoute | PathRow | null;
  readonly replaces: PathRow | null;
}
const SUSPECT_BACKOFF_MAX_MS = 60_000;
const NO_ACTIONS: readonly Action[] = Object.freeze([]);
const NO_NODES: readonly NodeId[] = Object.freeze([]);
/** A first measurement within this factor of what was known (build RTT, stored μ) agrees with it. */
export const WARM_AGREEMENT = 1.2;
/** Stored destinations rebuilt eagerly at start (most recent first). */
const EAGER_STORED_DESTS = 16;

/**
 * Calls `expire` for each entry of `pending` whose timeout has come, in insertion order (it may
 * delete the entry), and returns the earliest timeout of the others: no entry is due before it.
 */
export function expireDue<T extends { readonly timeoutAt: number }>(
  pending: Map<number, T>,
  now: number,
  expire: (id: number, entry: T) => void,
): number {
  let next = Number.POSITIVE_INFINITY;
  for (const [id, e] of pending) {
    if (now >= e.timeoutAt) expire(id, e);
    else next = Math.min(next, e.timeoutAt);
  }
  return next;
}

export class RouteState {
  protected readonly dests = new Map<NodeId, DestState>();
  protected readonly rows = new Map<number, PathRow>();
  protected readonly pathProbes = new Map<number, { row: PathRow; timeoutAt: number }>();
  protected readonly linkProbes = new Map<number, { n: NodeId; timeoutAt: number }>();
  protected readonly builds = new Map<number, PendingBuild>();
  protected retired: { dest: NodeId; hops: Hops }[] = [];
  protected out: Action[] = [];
  /** Neighbours whose link session is up (first hops a build may start from). */
  protected readonly up = new Set<NodeId>();
  protected nextId = 1;
  /**
   * Nothing times out before these: a link probe, a path probe, a build. Lower bounds (a reply does
   * not raise them), so a tick looks through the pending ones only when one may be due.
   */
  private linkProbesDueAt = Number.POSITIVE_INFINITY;
  protected pathProbesDueAt = Number.POSITIVE_INFINITY;
  protected buildsDueAt = Number.POSITIVE_INFINITY;

  constructor(
    protected readonly self: NodeId,
    protected readonly p: AgentParams,
    protected readonly rng: Rng,
    protected readonly table: DistanceTable,
    protected readonly suspicion: Suspicion,
    protected readonly stats: ReturnType<typeof buildStats>,
  ) {}

  linkUp(n: NodeId): void {
    this.up.add(n);
  }

  push(a: Action): void {
    this.out.push(a);
  }

  /** The actions queued since the last call (most ticks queue none: no array is made for those). */
  drain(): readonly Action[] {
    const a = this.out;
    if (a.length === 0) return NO_ACTIONS;
    this.out = [];
    return a;
  }

  dest(d: NodeId): DestState | undefined {
    return this.dests.get(d);
  }

  demand(d: NodeId, now: number): DestState {
    let ds = this.dests.get(d);
    if (!ds) {
      ds = new DestState(d, now);
      this.dests.set(d, ds);
    }
    ds.lastDemand = now;
    return ds;
  }

  /* ---- link probes (bookkeeping only; the agent owns link state) ---- */

  linkProbe(n: NodeId, now: number, timeoutMs: number): void {
    const id = this.nextId++;
    this.linkProbes.set(id, { n, timeoutAt: now + timeoutMs });
    this.linkProbesDueAt = Math.min(this.linkProbesDueAt, now + timeoutMs);
    this.stats.linkProbes++;
    this.out.push({ type: "linkProbe", probeId: id, neighbour: n });
  }

  takeLinkProbe(id: number): NodeId | undefined {
    const e = this.linkProbes.get(id);
    if (!e) return undefined;
    this.linkProbes.delete(id);
    return e.n;
  }

  expiredLinkProbes(now: number): readonly NodeId[] {
    if (now < this.linkProbesDueAt) return NO_NODES;
    const out: NodeId[] = [];
    this.linkProbesDueAt = expireDue(this.linkProbes, now, (id, e) => {
      this.linkProbes.delete(id);
      out.push(e.n);
    });
    return out;
  }

  /* ---- trains (burst.ts): carried out by nodes that can send them ---- */

  /**
   * Paths due for a train: the active path, the standby and measured challengers of destinations
   * that data wants, each on its own period, at most one new train per destination per TRAIN_GAP_MS
   * (the source's trains must not queue behind each other). Rows without RTT samples wait.
   */
  dueTrains(now: number): { pathId: number; hops: Hops }[] {
    const out: { pathId: number; hops: Hops }[] = [];
    for (const ds of this.dests.values()) {
      if (now - ds.lastDemand >= this.p.idleDestMs || !ds.active || now < ds.nextTrainAt) continue;
      let pick: PathRow | null = null;
      for (const r of ds.paths) {
        if (r.trainInFlight) {
          pick = null;
          break;
        }
        if (!r.healthy() || now < r.nextTrainAt) continue;
        if (r.est.weightAt(now, this.p.discountHalfLifeMs) < this.p.minSamples - 0.5) continue;
        if (!pick || r.nextTrainAt < pick.nextTrainAt) pick = r;
      }
      if (!pick) continue;
      const period = pick === ds.active || pick === ds.standby ? TRAIN_PERIOD_MS : TRAIN_CHALLENGER_PERIOD_MS;
      pick.trainInFlight = true;
      pick.nextTrainAt = now + this.jit(period);
      ds.nextTrainAt = now + TRAIN_GAP_MS;
      out.push({ pathId: pick.id, hops: pick.hops });
    }
    return out;
  }

  /** A train on `pathId` finished (or was abandoned: `sent` 0). */
  train(pathId: number, t: TrainResult, now: number): void {
    const r = this.rows.get(pathId);
    if (!r) return;
    r.trainInFlight = false;
    const ms = burstMs(t);
    if (Number.isNaN(ms)) return;
    // Noise (a busy relay, other traffic) only slows a drain, it never speeds one up: a faster
    // drain than the estimate is believed at once, so a link whose capacity came back is seen by the
    // next train rather than after a dozen.
    if (r.burst.nEff > 0 && ms < r.burst.mu) r.burst.reset();
    r.burst.add(ms, now, this.p.discountHalfLifeMs, this.p.burstMaxWeight);
    this.changed(r);
  }

  /* ---- state changes ---- */

  protected success(r: PathRow, rttMs: number, now: number): void {
    const p = this.p;
    if (r.provisional && r.est.nEff > 0) this.firstSample(r, rttMs);
    r.est.add(rttMs, now, p.discountHalfLifeMs, p.maxWeight);
    r.rtt.add(rttMs);
    r.loss.add(false, now, p.discountHalfLifeMs);
    r.fails = 0;
    r.lastOkAt = now;
    r.backoffMs = 1_000;
    r.dirty = true;
    // the active path's own samples are read afresh by every decision; any other row's may change one
    if (r.state !== "active") this.changed(r);
    if (r.state === "suspect") {
      r.state = "candidate";
      const ds = this.dests.get(r.dest);
      if (ds) this.roles(ds);
    } else if (r.state === "fresh" && r.est.nEff >= p.minSamples - 0.5) r.state = "candidate";
  }

  /**
   * The first probe or ack of a freshly built path. The build's RTT stood for the path until now,
   * but it includes every hop's key exchange (a post-quantum KEM, on a busy relay tens to hundreds
   * of ms): when it is clearly above this sample it is dropped rather than averaged in, or it would
   * weigh on the path's cost for its first ~20 samples, and a standby probed every few seconds
   * would look slow for minutes. A stored estimate the build's RTT could not confirm (warm start)
   * is confirmed or dropped by this sample instead.
   */
  private firstSample(r: PathRow, rttMs: number): void {
    r.provisional = false;
    const inherit = r.inherit;
    r.inherit = null;
    if (r.est.mu > WARM_AGREEMENT * rttMs) {
      r.est.reset();
      r.rtt.reset();
    }
    if (inherit && rttMs <= WARM_AGREEMENT * inherit.mu)
      r.est.restore(inherit.mu, inherit.variance, inherit.nEff, inherit.lastAt);
  }

  protected failure(r: PathRow, now: number): void {
    const ds = this.dests.get(r.dest);
    r.fails++;
    r.loss.add(true, now, this.p.discountHalfLifeMs);
    r.state = "suspect";
    r.nextProbeAt = now + r.backoffMs;
    r.backoffMs = Math.min(SUSPECT_BACKOFF_MAX_MS, r.backoffMs * 2);
    r.dirty = true;
    if (!ds) return;
    if (r === ds.standby) ds.standby = null;
    if (r === ds.active) {
      const t = pickFailover(ds);
      if (t) this.switchTo(ds, t, "failover", now);
      ds.nextBuildAt = Math.min(ds.nextBuildAt, now);
    }
    this.roles(ds);
  }

  protected switchTo(ds: DestState, r: PathRow, reason: SwitchReason, now: number): void {
    const from = ds.active;
    ds.active = r;
    ds.activeSince = now;
    ds.activeChosen = reason !== "first";
    if (ds.standby === r) ds.standby = this.p.standby ? pickStandby(ds) : null;
    r.firstUnackedAt = Number.NaN;
    r.lastSentAt = Number.NEGATIVE_INFINITY;
    if (reason === "failover") this.stats.failovers++;
    else this.stats.switches++;
    this.roles(ds);
    this.out.push({ type: "switch", dest: ds.dest, fromId: from ? from.id : -1, pathId: r.id, reason });
  }

  protected retire(r: PathRow): void {
    const ds = this.dests.get(r.dest);
    this.rows.delete(r.id);
    if (ds) {
      const i = ds.paths.indexOf(r);
      if (i >= 0) ds.paths.splice(i, 1);
      if (ds.active === r) ds.active = null;
      if (ds.standby === r) ds.standby = null;
      this.roles(ds);
    }
    this.stats.retired++;
    this.retired.push({ dest: r.dest, hops: r.hops });
    this.out.push({ type: "retire", pathId: r.id, hops: r.hops });
  }

  /** A row other than the active path changed: decisions cached on its destination are stale. */
  private changed(r: PathRow): void {
    const ds = this.dests.get(r.dest);
    if (ds) ds.version++;
  }

  protected roles(ds: DestState): void {
    ds.version++;
    for (const r of ds.paths) {
      if (r.state === "suspect") continue;
      if (r === ds.active) r.state = "active";
      else if (r === ds.standby) r.state = "standby";
      else r.state = r.est.nEff >= this.p.minSamples - 0.5 ? "candidate" : "fresh";
    }
    ds.refreshChoice();
  }

  /* ---- persistence and views ---- */

  takeChanges(): { routes: RouteRow[]; retired: { dest: NodeId; hops: Hops }[] } {
    const routes: RouteRow[] = [];
    for (const r of this.rows.values()) {
      if (!r.dirty || r.est.nEff === 0) continue;
      r.dirty = false;
      routes.push({
        dest: r.dest,
        hops: r.hops,
        mu: r.est.mu,
        variance: r.est.variance,
        nEff: r.est.nEff,
        loss: r.loss.value(),
        lastMs: r.est.lastAt,
      });
    }
    const retired = this.retired;
    this.retired = [];
    return { routes, retired };
  }

  importRoutes(routes: readonly RouteRow[], now: number): void {
    const byDest = new Map<NodeId, RouteRow[]>();
    for (const r of routes) {
      if (!validPath(this.self, r.dest, r.hops, this.p.hopCap)) continue;
      const list = byDest.get(r.dest) ?? [];
      list.push(r);
      byDest.set(r.dest, list);
    }
    const recent = [...byDest.entries()].sort(
      (a, b) => Math.max(...b[1].map((r) => r.lastMs)) - Math.max(...a[1].map((r) => r.lastMs)),
    );
    recent.forEach(([dest, list], i) => {
      const ds = this.demand(dest, i < EAGER_STORED_DESTS ? now : Number.NEGATIVE_INFINITY);
      // the store already aged the rows: their confidence is as of now
      ds.stored = list
        .sort((a, b) => a.mu - b.mu)
        .slice(0, this.p.maxCandidates)
        .map((r) => ({ ...r, lastMs: now, attempts: 0 }));
    });
  }

  views(now: number): DestView[] {
    return [...this.dests.values()].map((ds) => ({
      dest: ds.dest,
      activeId: ds.active?.id ?? -1,
      standbyId: ds.standby?.id ?? -1,
      activeForMs: ds.active ? now - ds.activeSince : 0,
      advertisedMs: this.table.estimate(ds.dest),
      candidates: ds.paths.map((r) => ({
        pathId: r.id,
        hops: r.hops,
        state: r.state,
        costMs: r.cost(),
        rttMs: r.est.mu,
        sdMs: r.est.sd(),
        loss: r.loss.value(),
        samples: r.est.weightAt(now, this.p.discountHalfLifeMs),
        ageMs: now - r.builtAt,
        lastOkAgoMs: now - r.lastOkAt,
      })),
    }));
  }

  protected jit(ms: number): number {
    return ms * (1 - this.p.timerJitter + 2 * this.p.timerJitter * this.rng.next());
  }
}
