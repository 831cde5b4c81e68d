/**
 * The discrete-event world: one real Agent per node (the same code the node runs), an in-memory
 * underlay (network.ts), a Master bus with delay, data flows, failures and churn. Agents see only
 * what their node would: their links, their probe replies and acks, and their neighbours' summaries.
 */
import { Agent } from "../agent.ts";
import { COST_UNIT_MS, HOP_CAP, UNREACHABLE } from "../constants.ts";
import { ageLink, ageRoute } from "../decay.ts";
import { Sfc32, subSeed } from "../rng.ts";
import type { Action, Hops, LinkRow, RouteRow, Summary } from "../types.ts";
import { dijkstra, pathTo, type ShortestPaths } from "./dijkstra.ts";
import { EventQueue } from "./heap.ts";
import { hopByHopWalk } from "./hop-by-hop.ts";
import { Metrics } from "./metrics.ts";
import { Network } from "./network.ts";
import type { Scenario } from "./scenario.ts";
import type { Topology } from "./topology.ts";

export const TICK_MS = 100;
const LOAD_REFRESH_MS = 1_000;
const WRITE_BEHIND_MS = 10_000;
const BUILD_FAIL_MS = 1_000;
/** What a lying node claims for every destination, ms. */
export const LIAR_CLAIM_MS = 1;
/** A smart liar claims this share of its true cost to far destinations. */
export const LIAR_SHARE = 0.3;

export interface Flow {
  readonly src: number;
  readonly dst: number;
  readonly staticPath: Hops | null;
  readonly randomPath: Hops | null;
}

export interface Persisted {
  routes: Map<string, RouteRow>;
  links: Map<number, LinkRow>;
}

export class World {
  readonly q = new EventQueue();
  readonly net: Network;
  readonly agents: (Agent | null)[];
  readonly flows: Flow[] = [];
  readonly metrics: Metrics;
  readonly rng: Sfc32;
  /** Write-behind mirror of each node's table (what its sqlite file would hold). */
  readonly persisted: Persisted[];
  private readonly oracleCache = new Map<number, { epoch: number; sp: ShortestPaths }>();
  private readonly liars: Set<number>;
  /** Flows whose latency is compared with the oracle (set by the scenario). */
  sampleSet = new Set<number>();
  /** The route the last hop-by-hop packet of each flow took (compared with the oracle when sampled). */
  readonly lastHopPath: (readonly number[] | undefined)[] = [];

  constructor(
    readonly sc: Scenario,
    readonly topo: Topology,
    warm?: (i: number) => { routes: RouteRow[]; links: LinkRow[] } | null,
    /** The flows of an earlier world on the same topology and seed (its baselines' paths are reused). */
    flows?: readonly Flow[],
  ) {
    this.rng = new Sfc32(subSeed(sc.seed, "world"));
    this.net = new Network(topo, new Sfc32(subSeed(sc.seed, "net")));
    this.metrics = new Metrics(sc.warmupMs);
    this.liars = new Set(sc.liars);
    for (const l of sc.liars)
      this.net.adversaries.set(l, { dropShare: sc.liarDrop, extraMs: sc.liarExtraMs });
    this.persisted = Array.from({ length: topo.n }, () => ({ routes: new Map(), links: new Map() }));
    this.agents = Array.from({ length: topo.n }, (_, i) => {
      const a = this.newAgent(i);
      const w = warm?.(i);
      if (w) a.importRows(w.routes, w.links, 0);
      return a;
    });
    if (flows) {
      this.flows.push(...flows);
      // the same draws makeFlows would take, so the rest of the run is the same either way
      for (let k = 0; k < topo.n * sc.flowsPerNode; k++) this.rng.next();
    } else this.makeFlows();
  }

  private newAgent(i: number): Agent {
    return new Agent({ self: i, seed: subSeed(this.sc.seed, `agent-${i}`), params: this.sc.params });
  }

  private makeFlows(): void {
    const n = this.topo.n;
    const into = { dist: new Float64Array(n), prev: new Int32Array(n) };
    for (let i = 0; i < n; i++) {
      const dsts: number[] = [];
      for (let k = 0; k < this.sc.flowsPerNode; k++) {
        let d = Math.floor(this.rng.next() * (n - 1));
        if (d >= i) d++;
        dsts.push(d);
      }
      // both searches stop once the flows' destinations are settled
      const sp = dijkstra(this.net, i, undefined, dsts, into);
      const statics = dsts.map((d) => pathTo(sp, d));
      const wr = new Sfc32(subSeed(this.sc.seed, `random-path-${i}`));
      const rnd = dijkstra(this.net, i, () => wr.next(), dsts, into);
      dsts.forEach((d, k) => {
        this.flows.push({ src: i, dst: d, staticPath: statics[k]!, randomPath: pathTo(rnd, d) });
      });
    }
  }

  /** Brings every link up at t = 0 and schedules the run. */
  start(): void {
    const { a, b } = this.topo;
    for (let li = 0; li < a.length; li++) this.linkUp(a[li]!, b[li]!, 0);
    this.q.at(0, () => this.step());
    this.q.at(LOAD_REFRESH_MS, () => this.refreshLoad());
    this.q.at(WRITE_BEHIND_MS, () => this.writeBehind());
  }

  run(until: number): void {
    this.q.runUntil(until);
  }

  /* ---- the 100 ms step: agents tick, flows send ---- */

  private step(): void {
    const t = this.q.now;
    for (let i = 0; i < this.agents.length; i++) {
      const ag = this.agents[i];
      if (!ag || this.net.nodeUp[i] === 0) continue;
      for (const a of ag.tick(t)) this.exec(i, ag, a, t);
    }
    if (Math.round(t) % this.sc.pktIntervalMs < TICK_MS / 2) {
      const round = Math.round(t / this.sc.pktIntervalMs);
      for (let f = 0; f < this.flows.length; f++) this.send(f, t, (round + f) % this.sc.baselineEvery === 0);
    }
    this.q.at(t + TICK_MS, () => this.step());
  }

  private send(f: number, t: number, baselines: boolean): void {
    const flow = this.flows[f]!;
    const { src, dst } = flow;
    const net = this.net;
    if (net.nodeUp[src] === 0 || net.nodeUp[dst] === 0) return;
    const m = this.metrics;
    const counted = m.inWindow(t);
    const ag = this.agents[src]!;
    const c = ag.send(dst, t);
    if (counted) m.sent++;
    if (!c.path) {
      if (counted) m.noPath++;
    } else {
      const w = net.walk(src, c.path, false);
      if (w.ok) {
        const fwd = w.ms;
        if (counted) m.delivered++;
        m.arrived(f, t + fwd);
        const back = net.walk(src, c.path, true);
        if (back.ok) {
          const rtt = fwd + back.ms;
          const pathId = c.pathId;
          this.q.at(t + rtt, () => {
            if (this.agents[src] === ag) ag.ack(pathId, t, rtt, this.q.now);
          });
        }
      }
    }
    if (!counted || !baselines) return;
    m.hopSent++;
    const hop = hopByHopWalk(net, this.agents, src, dst, t, this.rng);
    this.lastHopPath[f] = hop.path;
    if (hop.ok) {
      m.hopDelivered++;
      m.hopArrived(f, t + hop.ms);
    }
    m.staticSent++;
    if (flow.staticPath && net.walk(src, flow.staticPath, false).ok) m.staticDelivered++;
    m.randomSent++;
    if (flow.randomPath && net.walk(src, flow.randomPath, false).ok) m.randomDelivered++;
  }

  /* ---- actions ---- */

  private exec(i: number, ag: Agent, a: Action, t: number): void {
    const m = this.metrics;
    const counted = m.inWindow(t);
    const later = (dt: number, fn: (x: Agent) => void) =>
      this.q.at(t + dt, () => {
        if (this.agents[i] === ag && this.net.nodeUp[i] === 1) fn(ag);
      });
    switch (a.type) {
      case "linkProbe":
      case "pathProbe": {
        if (counted) m.probes++;
        const hops = a.type === "linkProbe" ? [a.neighbour] : a.hops;
        const rtt = this.net.roundTrip(i, hops);
        if (Number.isNaN(rtt)) return;
        if (counted) m.probes++;
        later(rtt, (x) => x.observe({ type: "probeReply", probeId: a.probeId, rttMs: rtt }, this.q.now));
        return;
      }
      case "build":
        this.build(i, a, t, later);
        return;
      case "retire":
        if (counted) m.teardowns++;
        return;
      case "switch":
        return;
      case "publish": {
        if (counted) m.master++;
        const s = this.liars.has(i) ? this.lie(a.summary) : a.summary;
        for (const nb of this.net.adj[i]!.keys()) {
          if (!this.net.usable(i, nb)) continue;
          const target = this.agents[nb];
          this.q.at(t + this.busDelay(), () => {
            if (this.agents[nb] === target && this.net.nodeUp[nb] === 1)
              target?.onNeighbourSummary(s, this.q.now);
          });
        }
        return;
      }
      case "requestSummary": {
        if (counted) m.master += 2;
        const nb = a.neighbour;
        later(2 * this.busDelay(), (x) => {
          const other = this.agents[nb];
          if (!other || !this.net.usable(i, nb)) return;
          const s = other.summary();
          x.onNeighbourSummary(this.liars.has(nb) ? this.lie(s) : s, this.q.now);
        });
        return;
      }
    }
  }

  /** Telescoping: extend hop by hop, asking each new hop for the next one unless the hops are given. */
  private build(
    i: number,
    a: Extract<Action, { type: "build" }>,
    t: number,
    later: (dt: number, fn: (x: Agent) => void) => void,
  ): void {
    const hops: number[] = [];
    const prefix: number[] = [];
    const claims: number[] = [];
    const visited = [i];
    const counted = this.metrics.inWindow(t);
    let cur = i;
    let elapsed = 0;
    const fail = () =>
      later(elapsed + BUILD_FAIL_MS, (x) =>
        x.observe({ type: "buildFailed", buildId: a.buildId }, this.q.now),
      );
    for (let k = 0; cur !== a.dest; k++) {
      let next: number;
      if (a.hops) {
        if (k >= a.hops.length) {
          fail();
          return;
        }
        next = a.hops[k]!;
      } else if (k === 0) next = a.firstHop;
      else {
        const hop = this.agents[cur];
        const s = hop && this.net.nodeUp[cur] === 1 ? hop.suggestNextHop(a.dest, visited, a.avoid, t) : null;
        if (!s) {
          fail();
          return;
        }
        next = s.next;
        claims[k - 1] = this.liars.has(cur) ? this.lieMs(s.claimMs, 9) : s.claimMs;
      }
      if (
        visited.includes(next) ||
        hops.length >= (this.sc.params.hopCap ?? HOP_CAP) ||
        !this.net.usable(cur, next)
      ) {
        fail();
        return;
      }
      hops.push(next);
      visited.push(next);
      let rtt = this.net.roundTrip(i, hops);
      if (counted) this.metrics.builds += 2;
      if (Number.isNaN(rtt)) {
        elapsed += BUILD_FAIL_MS; // the extension is retried once after a timeout
        rtt = this.net.roundTrip(i, hops);
        if (counted) this.metrics.builds += 2;
        if (Number.isNaN(rtt)) {
          fail();
          return;
        }
      }
      // Asked extensions wait for each reply; given hops are sent back to back (pipelined), so the
      // build completes one path RTT after it starts.
      elapsed = a.hops ? Math.max(elapsed, rtt) : elapsed + rtt;
      prefix.push(rtt);
      cur = next;
    }
    claims[hops.length - 1] = 0;
    for (let k = 0; k < hops.length; k++) if (claims[k] === undefined) claims[k] = Number.NaN;
    later(elapsed, (x) =>
      x.observe(
        { type: "built", buildId: a.buildId, hops, prefixRttMs: prefix, claimsMs: claims },
        this.q.now,
      ),
    );
  }

  private busDelay(): number {
    return this.sc.busDelayMs * (0.5 + this.rng.next());
  }

  /* ---- links, failures, churn ---- */

  linkUp(u: number, v: number, t: number): void {
    const li = this.net.link(u, v);
    const rtt = 2 * this.topo.latencyMs[li]!;
    this.agents[u]?.onLinkUp(v, t, rtt);
    this.agents[v]?.onLinkUp(u, t, rtt);
  }

  /** Fails link `li` at `t`; its ends notice after the link-session timeout; it returns after `downMs`. */
  failLink(li: number, t: number, downMs: number): void {
    const u = this.topo.a[li]!;
    const v = this.topo.b[li]!;
    if (this.net.linkUp[li] === 0) return;
    this.net.setLink(li, false);
    this.markAffected(t, (path, src) => uses(src, path, u, v));
    this.q.at(t + this.sc.linkDetectMs, () => {
      if (this.net.linkUp[li] === 0) {
        this.agents[u]?.onLinkDown(v, this.q.now);
        this.agents[v]?.onLinkDown(u, this.q.now);
      }
    });
    this.q.at(t + downMs, () => {
      this.net.setLink(li, true);
      if (this.net.nodeUp[u] === 1 && this.net.nodeUp[v] === 1) this.linkUp(u, v, this.q.now);
    });
  }

  /** Crashes node `i` at `t`; it rejoins after `downMs` with what its table held at the last write-behind. */
  crashNode(i: number, t: number, downMs: number): void {
    if (this.net.nodeUp[i] === 0) return;
    this.net.setNode(i, false);
    this.markAffected(t, (path) => path.slice(0, -1).includes(i));
    this.flows.forEach((f, k) => {
      if (f.src === i || f.dst === i) this.metrics.cancel(k);
    });
    this.agents[i] = null;
    const neighbours = [...this.net.adj[i]!.keys()];
    this.q.at(t + this.sc.linkDetectMs, () => {
      for (const nb of neighbours) if (this.net.nodeUp[i] === 0) this.agents[nb]?.onLinkDown(i, this.q.now);
    });
    this.q.at(t + downMs, () => {
      const now = this.q.now;
      this.net.setNode(i, true);
      const ag = this.newAgent(i);
      const p = this.persisted[i]!;
      const routes = [...p.routes.values()].map((r) => ageRoute(r, now)).filter((r) => r !== null);
      const links = [...p.links.values()].map((r) => ageLink(r, now)).filter((r) => r !== null);
      ag.importRows(routes, links, now);
      this.agents[i] = ag;
      for (const nb of neighbours) {
        if (this.net.usable(i, nb)) this.linkUp(i, nb, now);
      }
    });
  }

  private markAffected(t: number, hit: (path: Hops, src: number) => boolean): void {
    if (!this.metrics.inWindow(t)) return;
    const flows = this.flows;
    for (let k = 0; k < flows.length; k++) {
      const f = flows[k]!;
      if (this.net.nodeUp[f.src] === 0 || this.net.nodeUp[f.dst] === 0) continue;
      const path = this.agents[f.src]?.choose(f.dst, t).path;
      if (path && hit(path, f.src)) this.metrics.failure(k, t);
      const hop = this.lastHopPath[k];
      if (hop && hop.length > 0 && hop[hop.length - 1] === f.dst && hit(hop, f.src))
        this.metrics.hopFailure(k, t);
    }
  }

  private refreshLoad(): void {
    const t = this.q.now;
    const load = this.net.load;
    load.fill(0);
    const pps = 1000 / this.sc.pktIntervalMs;
    for (const f of this.flows) {
      const path = this.agents[f.src]?.destState(f.dst)?.active?.hops;
      if (!path) continue;
      let u = f.src;
      for (const v of path) {
        const li = this.net.link(u, v);
        if (li >= 0) load[li]! += pps;
        u = v;
      }
    }
    this.q.at(t + LOAD_REFRESH_MS, () => this.refreshLoad());
  }

  private writeBehind(): void {
    for (let i = 0; i < this.agents.length; i++) {
      const ag = this.agents[i];
      if (!ag) continue;
      const c = ag.takeChanges();
      const p = this.persisted[i]!;
      for (const r of c.routes) p.routes.set(`${r.dest}|${r.hops.join(",")}`, r);
      for (const r of c.retired) p.routes.delete(`${r.dest}|${r.hops.join(",")}`);
      for (const l of c.links) p.links.set(l.neighbour, l);
    }
    this.q.at(this.q.now + WRITE_BEHIND_MS, () => this.writeBehind());
  }

  /* ---- adversaries ---- */

  /**
   * What a liar claims instead of `ms` for a destination `hops` away. "naive": LIAR_CLAIM_MS for
   * everything. "smart": the truth within two hops (its neighbours can check those), LIAR_SHARE of it
   * beyond (only measurement through it can tell).
   */
  lieMs(ms: number, hops: number): number {
    if (this.sc.liarMode === "naive") return LIAR_CLAIM_MS;
    return hops <= 2 ? ms : Math.max(LIAR_CLAIM_MS, LIAR_SHARE * ms);
  }

  private lie(s: Summary): Summary {
    const costs = new Uint16Array(s.costs.length);
    const hops = new Uint8Array(s.hops.length);
    for (let i = 0; i < costs.length; i++) {
      const c = s.costs[i]!;
      if (c === UNREACHABLE) {
        costs[i] = UNREACHABLE;
        continue;
      }
      costs[i] = Math.max(1, Math.round(this.lieMs(c * COST_UNIT_MS, s.hops[i]!) / COST_UNIT_MS));
      hops[i] = this.sc.liarMode === "naive" ? 1 : s.hops[i]!;
    }
    return { ...s, costs, hops };
  }

  /* ---- the oracle ---- */

  oracleMs(src: number, dst: number): number {
    let e = this.oracleCache.get(src);
    if (!e || e.epoch !== this.net.epoch) {
      e = { epoch: this.net.epoch, sp: dijkstra(this.net, src) };
      this.oracleCache.set(src, e);
    }
    return e.sp.dist[dst]!;
  }
}

/** Does the path from `src` use the undirected link u–v? */
function uses(src: number, path: Hops, u: number, v: number): boolean {
  let a = src;
  for (const b of path) {
    if ((a === u && b === v) || (a === v && b === u)) return true;
    a = b;
  }
  return false;
}
