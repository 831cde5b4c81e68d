/**
 * The per-destination side of the agent: observations on built paths, probes, builds, failover,
 * switching, rotation and retirement. The decisions themselves are in policy.ts, the state and its
 * primitive changes in route-state.ts.
 */
import { type DestState, PathRow, type StoredRoute } from "./path-row.ts";
import { validPath } from "./path-rules.ts";
import {
  challengerFloor,
  pickBetter,
  pickChallenger,
  pickDuel,
  pickFailover,
  pickStandby,
  standbyShared,
} from "./policy.ts";
import { expireDue, RouteState, WARM_AGREEMENT } from "./route-state.ts";
import { inconsistentHops } from "./suspicion.ts";
import type { Hops, NodeId } from "./types.ts";

export { type AgentStats, buildStats } from "./route-state.ts";

const BUILD_TIMEOUT_MS = 10_000;
const BUILD_BACKOFF_MIN_MS = 500;
const BUILD_BACKOFF_MAX_MS = 30_000;
/** A destination with no path at all keeps trying at least this often. */
const BUILD_BACKOFF_NO_PATH_MS = 4_000;
const IDLE_PROBE_AFTER_MS = 2_000;
/** Stored routes rebuilt per destination (warm start). */
const STORED_ROUTES_PER_DEST = 3;
/** A stored route is tried this many times at most, this far apart (warm start). */
const STORED_ATTEMPTS = 3;
const STORED_RETRY_MS = 2_000;
/** A stored route whose first hop is not up this long after loading is dropped. */
const STORED_HOP_GIVE_UP_MS = 60_000;
/** While no stored route's first hop is up, they are looked at this often. */
const STORED_POLL_MS = 100;
const EMPTY: ReadonlySet<NodeId> = new Set();
/** Rotation and retirement run this often per destination, not every tick. */
const MAINTAIN_EVERY_MS = 500;

export class RouteBook extends RouteState {
  /* ---- observations ---- */

  noteSent(dest: NodeId, pathId: number, now: number): void {
    const row = this.rows.get(pathId);
    if (row && row.dest === dest) this.sentOn(row, now);
  }

  /** `demand` and `noteSent` on the active path, in one lookup: a packet to `dest` leaves now. */
  send(dest: NodeId, now: number): DestState {
    const ds = this.demand(dest, now);
    if (ds.active) this.sentOn(ds.active, now);
    return ds;
  }

  private sentOn(row: PathRow, now: number): void {
    if (Number.isFinite(row.lastSentAt)) {
      row.sendGapMs = 0.875 * row.sendGapMs + 0.125 * Math.min(1_000, now - row.lastSentAt);
    }
    row.lastSentAt = now;
    if (Number.isNaN(row.firstUnackedAt)) row.firstUnackedAt = now;
  }

  ack(pathId: number, sentAt: number, rttMs: number, now: number): void {
    const row = this.rows.get(pathId);
    if (!row) return;
    if (sentAt >= row.lastSentAt) row.firstUnackedAt = Number.NaN;
    else if (sentAt >= row.firstUnackedAt)
      row.firstUnackedAt = Math.min(row.lastSentAt, sentAt + row.sendGapMs);
    this.success(row, rttMs, now);
  }

  probeReply(id: number, rttMs: number, now: number): void {
    const e = this.pathProbes.get(id);
    if (!e) return;
    this.pathProbes.delete(id);
    e.row.probeInFlight = false;
    if (this.rows.has(e.row.id)) this.success(e.row, rttMs, now);
  }

  pathFailed(pathId: number, now: number): void {
    const row = this.rows.get(pathId);
    if (row) this.failure(row, now);
  }

  linkDown(n: NodeId, now: number): void {
    this.up.delete(n);
    for (const row of [...this.rows.values()]) if (row.hops[0] === n) this.failure(row, now);
  }

  built(id: number, hops: Hops, prefix: readonly number[], claims: readonly number[], now: number): void {
    const b = this.builds.get(id);
    if (!b) {
      this.out.push({ type: "retire", pathId: id, hops }); // late: we gave up on it
      return;
    }
    this.builds.delete(id);
    const ds = b.ds;
    ds.buildsInFlight--;
    const rtt = prefix[prefix.length - 1]!;
    const ok =
      validPath(this.self, ds.dest, hops, this.p.hopCap) &&
      hops[0] === b.firstHop &&
      prefix.length === hops.length &&
      claims.length === hops.length &&
      Number.isFinite(rtt) &&
      rtt > 0 &&
      (!b.explicit || sameHops(b.explicit, hops));
    if (!ok) {
      this.stats.refusedPaths++;
      this.out.push({ type: "retire", pathId: id, hops });
      this.buildBackoff(ds, now);
      return;
    }
    const checked = this.p.measure
      ? inconsistentHops(hops, prefix, claims, b.firstClaimMs, this.p.claimTolerance)
      : [];
    for (const [n, ev] of checked) {
      this.suspicion.add(n, now, ev);
      if (this.suspicion.suspected(n, now)) this.table.setUsable(n, false);
    }
    const avoid = hops.some((h, k) => k < hops.length - 1 && this.suspicion.suspected(h, now));
    const dup = ds.paths.find((r) => r.sameHops(hops));
    // a fresh build over the hops of a suspect row answered: the fresh row takes its place
    const stale = dup && !b.replaces && dup.state === "suspect" ? dup : null;
    if (avoid || (dup && !b.replaces && !stale)) {
      this.stats.refusedPaths++;
      this.out.push({ type: "retire", pathId: id, hops });
      this.buildBackoff(ds, now);
      return;
    }
    const row = new PathRow(id, ds.dest, hops, now, now + this.jit(this.p.pathLifetimeMs));
    const inh = b.inherit;
    // the build's RTT stands for the path until its first probe or ack (route-state.ts firstSample)
    row.provisional = true;
    if (inh) {
      const prior =
        inh instanceof PathRow
          ? { mu: inh.est.mu, variance: inh.est.variance, nEff: inh.est.nEff, lastAt: inh.est.lastAt }
          : { mu: inh.mu, variance: inh.variance, nEff: inh.nEff, lastAt: inh.lastMs };
      if (rtt <= WARM_AGREEMENT * prior.mu) {
        row.est.restore(prior.mu, prior.variance, prior.nEff, prior.lastAt);
        row.provisional = false;
      } else row.inherit = prior; // the build's RTT may be the hops' key exchanges: the first sample decides
    }
    ds.paths.push(row);
    this.rows.set(id, row);
    if (inh && !(inh instanceof PathRow)) {
      ds.stored = ds.stored.filter((s) => s !== inh);
      row.storedMu = inh.mu;
    }
    ds.buildBackoffMs = BUILD_BACKOFF_MIN_MS;
    this.success(row, rtt, now);
    if (stale && this.rows.has(stale.id)) {
      if (stale === ds.active) this.switchTo(ds, row, "failover", now);
      this.retire(stale);
    }
    if (b.replaces && this.rows.has(b.replaces.id)) {
      const old = b.replaces;
      if (old === ds.active) this.switchTo(ds, row, "rotation", now);
      else if (old === ds.standby) ds.standby = row;
      this.retire(old);
    }
    if (!ds.active) this.switchTo(ds, row, "first", now);
    else if (!ds.activeChosen && row.storedMu < ds.active.storedMu && this.rows.has(row.id))
      this.switchTo(ds, row, "first", now); // the better stored route (rebuildStored)
    this.roles(ds);
  }

  buildFailed(id: number, now: number): void {
    const b = this.builds.get(id);
    if (!b) return;
    this.builds.delete(id);
    b.ds.buildsInFlight--;
    this.stats.buildFailures++;
    if (b.replaces) b.replaces.rotating = false;
    this.buildBackoff(b.ds, now);
  }

  /* ---- time ---- */

  tick(now: number): void {
    if (now >= this.pathProbesDueAt) {
      this.pathProbesDueAt = expireDue(this.pathProbes, now, (id, e) => {
        this.pathProbes.delete(id);
        e.row.probeInFlight = false;
        if (this.rows.has(e.row.id)) this.failure(e.row, now);
      });
    }
    if (now >= this.buildsDueAt)
      this.buildsDueAt = expireDue(this.builds, now, (id) => this.buildFailed(id, now));
    for (const ds of this.dests.values()) {
      if (now - ds.lastDemand < this.p.idleDestMs) this.tickDest(ds, now);
    }
  }

  private tickDest(ds: DestState, now: number): void {
    const p = this.p;
    if (ds.stored.length > 0 && ds.buildsInFlight === 0 && now >= ds.nextStoredAt)
      this.rebuildStored(ds, now);
    const a = ds.active;
    if (a && !Number.isNaN(a.firstUnackedAt) && now - a.firstUnackedAt > a.suspectAfterMs(p)) {
      a.firstUnackedAt = Number.NaN;
      this.failure(a, now);
    }
    if (!ds.active?.healthy()) {
      const t = pickFailover(ds);
      if (t) this.switchTo(ds, t, ds.active ? "failover" : "first", now);
    } else {
      const b = p.measure ? this.better(ds, now) : this.byClaim(ds);
      if (b) this.switchTo(ds, b, "better", now);
    }
    // what the standby should be changes only with the rows (ds.version): looked at once per change
    if (p.standby && ds.standbyVersion !== ds.version) {
      if (!ds.standby?.healthy() || standbyShared(ds)) {
        const s = pickStandby(ds);
        if (s !== ds.standby) {
          ds.standby = s;
          this.roles(ds);
        }
      }
      ds.standbyVersion = ds.version;
    }
    if (now >= ds.nextMaintainAt) {
      ds.nextMaintainAt = now + MAINTAIN_EVERY_MS;
      this.maintain(ds, now);
    }
    this.probe(ds, now);
    if (ds.buildsInFlight > 0) return;
    if (now >= ds.nextBuildAt && ds.paths.length < p.maxCandidates) {
      let healthy = 0;
      for (const r of ds.paths) if (r.state !== "suspect") healthy++;
      if (healthy < p.targetCandidates) {
        this.build(ds, now, "diverse");
        return;
      }
      if (p.standby && ds.active && (!ds.standby || standbyShared(ds))) {
        this.build(ds, now, "disjoint");
        return;
      }
    }
    // hint builds do not wait for the failure back-off: they are bounded by hintBuildMs and by
    // running only when the claims move
    if (now >= ds.nextHintAt) {
      ds.nextHintAt = now + this.jit(p.hintBuildMs);
      let best = Number.POSITIVE_INFINITY;
      for (const r of ds.paths) if (r.healthy()) best = Math.min(best, r.cost());
      const est = this.table.estimate(ds.dest);
      if (est < (1 - p.switchMargin) * best) {
        const first = this.table.bestNext(ds.dest, EMPTY, p.hopCap)?.[0] ?? -1;
        if (first !== ds.lastHintFirst || est < (1 - p.switchMargin) * ds.lastHintMs) {
          ds.lastHintFirst = first;
          ds.lastHintMs = est;
          this.build(ds, now, "best");
        }
      }
    }
  }

  /** pickBetter, unless nothing but the active path changed since it last found nothing and cannot find anything now. */
  private better(ds: DestState, now: number): PathRow | null {
    const p = this.p;
    const margin = 1 - p.switchMargin;
    if (ds.floorVersion === ds.version && ds.challengerFloor >= margin * ds.active!.cost()) return null;
    const b = pickBetter(ds, now, p);
    const dwelling = ds.activeChosen && now - ds.activeSince < p.minDwellMs;
    if (b || !p.hysteresis || dwelling) ds.floorVersion = -1;
    else {
      ds.floorVersion = ds.version;
      ds.challengerFloor = challengerFloor(ds, now, p);
    }
    return b;
  }

  /** The claimed cost to each wanted destination (to tell, after new claims, which improved). */
  wantedEstimates(now: number): Map<NodeId, number> {
    const m = new Map<NodeId, number>();
    for (const ds of this.dests.values()) {
      if (now - ds.lastDemand < this.p.idleDestMs) m.set(ds.dest, this.table.estimate(ds.dest));
    }
    return m;
  }

  /**
   * A summary or a link coming up made the claims for some wanted destinations clearly better than
   * `before` (from `wantedEstimates`). Where they now also promise clearly better than every healthy
   * built path, the failure back-off no longer describes the destination: builds, and the hint
   * build towards the new claim, may run at once. Runs only on improvements, so its rate is bounded
   * by how often claims improve.
   */
  claimsImproved(before: Map<NodeId, number>, now: number): void {
    const margin = 1 - this.p.switchMargin;
    for (const [dest, was] of before) {
      const est = this.table.estimate(dest);
      if (!(est < margin * was)) continue;
      const ds = this.dests.get(dest);
      if (!ds) continue;
      let best = Number.POSITIVE_INFINITY;
      for (const r of ds.paths) if (r.healthy()) best = Math.min(best, r.cost());
      if (!(est < margin * best)) continue;
      ds.buildBackoffMs = BUILD_BACKOFF_MIN_MS;
      ds.nextBuildAt = Math.min(ds.nextBuildAt, now);
      ds.nextHintAt = Math.min(ds.nextHintAt, now);
      ds.lastHintFirst = -1;
      ds.lastHintMs = Number.POSITIVE_INFINITY;
    }
  }

  /** Rotation, retirement of failed, degraded and surplus paths. */
  private maintain(ds: DestState, now: number): void {
    const p = this.p;
    let best = Number.POSITIVE_INFINITY;
    for (const r of ds.paths) if (r.healthy()) best = Math.min(best, r.cost());
    for (const r of [...ds.paths]) {
      const keep = r === ds.active || r === ds.standby;
      if (now >= r.expiresAt && !r.rotating) {
        if (keep && r.healthy()) {
          r.rotating = true;
          this.startBuild(ds, r.hops[0]!, r.hops, [], Number.NaN, r, r, now);
        } else if (!keep) this.retire(r);
        continue;
      }
      if (keep) continue;
      if (r.fails >= p.retireFailures) {
        this.retire(r);
        continue;
      }
      if (r.healthy() && r.cost() > p.degradeFactor * best) {
        if (Number.isNaN(r.degradedSince)) r.degradedSince = now;
        else if (now - r.degradedSince > p.degradeMs) this.retire(r);
      } else r.degradedSince = Number.NaN;
    }
    while (ds.paths.length > p.maxCandidates) {
      let worst: PathRow | null = null;
      for (const r of ds.paths) {
        if (r === ds.active || r === ds.standby) continue;
        if (!worst || r.cost() > worst.cost()) worst = r;
      }
      if (!worst) break;
      this.retire(worst);
    }
  }

  private probe(ds: DestState, now: number): void {
    const p = this.p;
    for (const r of ds.paths) {
      if (r.probeInFlight || now < r.nextProbeAt) continue;
      let period = 0;
      if (r.state === "suspect") period = r.backoffMs;
      else if (r.est.weightAt(now, p.discountHalfLifeMs) < p.minSamples - 0.5) period = p.freshProbeMs;
      else if (r === ds.standby) period = p.standbyProbeMs;
      else if (r === ds.active && now - r.lastSentAt > IDLE_PROBE_AFTER_MS) period = p.standbyProbeMs;
      if (period > 0) this.sendProbe(r, now, period);
    }
    // pickDuel's bounds cost a few logarithms a row: only worth it if some row could be probed now
    let probeable = false;
    for (const r of ds.paths) {
      if (r !== ds.active && !r.probeInFlight && now >= r.nextProbeAt && r.healthy()) {
        probeable = true;
        break;
      }
    }
    const duel = this.p.measure && probeable ? pickDuel(ds, now, p) : null;
    if (duel && !duel.probeInFlight && now >= duel.nextProbeAt) this.sendProbe(duel, now, p.freshProbeMs);
    if (now >= ds.nextChallengeAt) {
      ds.nextChallengeAt = now + this.jit(p.challengerProbeMs);
      const c = pickChallenger(ds, now, this.rng, p);
      if (c) this.sendProbe(c, now, 0);
    }
  }

  private sendProbe(r: PathRow, now: number, period: number): void {
    const id = this.nextId++;
    r.probeInFlight = true;
    r.nextProbeAt = now + (period > 0 ? this.jit(period) : 0);
    const timeoutAt = now + r.probeTimeoutMs(this.p);
    this.pathProbes.set(id, { row: r, timeoutAt });
    this.pathProbesDueAt = Math.min(this.pathProbesDueAt, timeoutAt);
    this.stats.pathProbes++;
    this.out.push({ type: "pathProbe", probeId: id, pathId: r.id, hops: r.hops });
  }

  /* ---- builds ---- */

  /**
   * Requests a build: "diverse" prefers a first hop no built path uses (with a random share),
   * "disjoint" avoids the active path's relays (a standby for failover), "best" follows the claims.
   */
  private build(ds: DestState, now: number, mode: "diverse" | "disjoint" | "best"): void {
    const avoid = new Set<NodeId>(this.suspicion.list(now, 32));
    avoid.delete(ds.dest); // suspicion is about relaying; the destination is who we want to reach
    if (mode === "disjoint" && ds.active) for (const h of ds.active.interior()) avoid.add(h);
    const ranked = this.table.rank(ds.dest, avoid);
    const used = new Set<NodeId>(ds.paths.map((r) => r.hops[0]!));
    if (mode !== "best" && !ranked.some(([n]) => !used.has(n))) {
      const spare = this.unrankedFirstHop(ds, ranked, used, avoid);
      if (spare !== undefined) {
        this.startBuild(ds, spare, null, [...avoid], Number.NaN, null, null, now);
        return;
      }
    }
    if (ranked.length === 0) {
      this.buildBackoff(ds, now);
      return;
    }
    let pick = mode === "best" ? ranked[0]! : (ranked.find(([n]) => !used.has(n)) ?? ranked[0]!);
    if (mode === "diverse" && this.rng.next() < this.p.randomBuildShare) {
      pick = ranked[Math.floor(this.rng.next() * ranked.length)]!;
    }
    const [first] = pick;
    const firstClaim = first === ds.dest ? 0 : this.table.claim(first, ds.dest);
    this.startBuild(ds, first, first === ds.dest ? [first] : null, [...avoid], firstClaim, null, null, now);
  }

  /**
   * An up neighbour that no built path starts with and whose claims do not rank it towards `dest`.
   * Its own route may run back through this node (split horizon withdraws it here) while its other
   * neighbours reach the destination: a ring whose far side routes through us is the simplest case.
   * The build asks its hops for the rest of the route, and the source checks what comes back.
   */
  private unrankedFirstHop(
    ds: DestState,
    ranked: readonly [NodeId, number][],
    used: ReadonlySet<NodeId>,
    avoid: ReadonlySet<NodeId>,
  ): NodeId | undefined {
    let pick: NodeId | undefined;
    for (const n of this.up) {
      if (n === ds.dest || used.has(n) || avoid.has(n) || ranked.some(([r]) => r === n)) continue;
      if (pick === undefined || n < pick) pick = n;
    }
    return pick;
  }

  /**
   * Rebuilds the stored routes (warm start) whose first hop is up, all at once: the lot takes one
   * path RTT, and a route that fails does not hold up the others. The first to answer carries data;
   * a better stored route (lower stored μ) that answers later takes over at once while the active
   * path is one no measurement chose (`built`): the node's own record ranks them, and a worse path
   * that happened to answer first would otherwise have to be beaten by measurement, which on a busy
   * node takes far longer than a build. A restarted node's links come back one by one, so a route
   * waits for its first hop (looked at every STORED_POLL_MS, dropped if not up within
   * STORED_HOP_GIVE_UP_MS); a build that failed is tried again, STORED_ATTEMPTS times in all,
   * STORED_RETRY_MS apart. A route that was built, or whose hops a built path already has, is done.
   */
  private rebuildStored(ds: DestState, now: number): void {
    ds.stored = ds.stored.filter(
      (s) =>
        s.attempts < STORED_ATTEMPTS &&
        (s.attempts > 0 || now - s.lastMs < STORED_HOP_GIVE_UP_MS || this.up.has(s.hops[0]!)) &&
        !ds.paths.some((r) => r.sameHops(s.hops)),
    );
    let started = false;
    for (const s of ds.stored.slice(0, STORED_ROUTES_PER_DEST)) {
      if (!this.up.has(s.hops[0]!)) continue;
      s.attempts++;
      this.startBuild(ds, s.hops[0]!, s.hops, [], Number.NaN, s, null, now);
      started = true;
    }
    ds.nextStoredAt = now + (started ? STORED_RETRY_MS : STORED_POLL_MS);
  }

  private startBuild(
    ds: DestState,
    firstHop: NodeId,
    explicit: Hops | null,
    avoid: NodeId[],
    firstClaimMs: number,
    inherit: StoredRoute | PathRow | null,
    replaces: PathRow | null,
    now: number,
  ): void {
    const id = this.nextId++;
    ds.buildsInFlight++;
    this.stats.builds++;
    this.builds.set(id, {
      ds,
      firstHop,
      explicit,
      timeoutAt: now + BUILD_TIMEOUT_MS,
      firstClaimMs,
      inherit,
      replaces,
    });
    this.buildsDueAt = Math.min(this.buildsDueAt, now + BUILD_TIMEOUT_MS);
    this.out.push({ type: "build", buildId: id, dest: ds.dest, firstHop, hops: explicit, avoid });
  }

  private buildBackoff(ds: DestState, now: number): void {
    ds.nextBuildAt = now + this.jit(ds.buildBackoffMs);
    const max = ds.active ? BUILD_BACKOFF_MAX_MS : BUILD_BACKOFF_NO_PATH_MS;
    ds.buildBackoffMs = Math.min(max, ds.buildBackoffMs * 2);
  }

  /** Ablation "trust gossip": follow the neighbours' claims, not the measurements. */
  private byClaim(ds: DestState): PathRow | null {
    let best: PathRow | null = null;
    let bestMs = Number.POSITIVE_INFINITY;
    for (const r of ds.paths) {
      if (!r.healthy()) continue;
      const f = r.hops[0]!;
      const ms = f === ds.dest ? 0 : this.table.claim(f, ds.dest);
      if (ms < bestMs) {
        bestMs = ms;
        best = r;
      }
    }
    return best && best !== ds.active ? best : null;
  }
}

function sameHops(a: Hops, b: Hops): boolean {
  return a.length === b.length && a.every((h, i) => h === b[i]);
}
