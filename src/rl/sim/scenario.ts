/**
 * One simulation run from a seed: topology, the agents' world, injected failures and churn, the
 * baselines (oracle Dijkstra on true latencies, static shortest path from t = 0, random valid path),
 * and, optionally, a warm restart of the whole network from the persisted tables.
 */
import type { AgentParams } from "../constants.ts";
import { QTableStore } from "../qtable-store.ts";
import { Sfc32, subSeed } from "../rng.ts";
import type { LinkRow, RouteRow } from "../types.ts";
import { quantile } from "./metrics.ts";
import { makeTopology, type Topology, type TopologyKind } from "./topology.ts";
import { World } from "./world.ts";

const LIAR_SAMPLE_MS = 1_000;

export interface Scenario {
  seed: number;
  nodes: number;
  topology: TopologyKind;
  meanDegree: number;
  flowsPerNode: number;
  pktIntervalMs: number;
  durationMs: number;
  /** Metrics count from here; failures and churn happen after it. */
  warmupMs: number;
  /** Share of links that fail (once each) during the run. */
  linkFailShare: number;
  linkDownMs: [number, number];
  /** Share of nodes that crash (once each) and rejoin warm. */
  churn: number;
  churnDownMs: [number, number];
  /** Time for a link session to notice its peer is gone. */
  linkDetectMs: number;
  /** One-way delay through Master, mean. */
  busDelayMs: number;
  capacityPps: number;
  maxLoss: number;
  params: Partial<AgentParams>;
  liars: number[];
  /** If > 0, the liars are this many highest-degree nodes (chosen after the topology is made). */
  liarHubs: number;
  liarMode: "naive" | "smart";
  liarDrop: number;
  liarExtraMs: number;
  /** The baselines walk every this-many-th packet of a flow (an unbiased sample, to save time). */
  baselineEvery: number;
  /** Stretch is sampled this often for up to sampleFlows flows. */
  sampleMs: number;
  sampleFlows: number;
  /** Convergence is sampled every convergeEveryMs during the first convergeWindowMs. */
  convergeWindowMs: number;
  convergeEveryMs: number;
  /** Run the warm restart (tables persisted through QTableStore, aged by warmDowntimeMs). */
  warmStart: boolean;
  warmDowntimeMs: number;
  /** How long the warm restart runs (0: convergeWindowMs); its convergence is sampled only within it. */
  warmWindowMs: number;
  /** Target ratio for convergence. */
  stretchTarget: number;
}

export const DEFAULT_SCENARIO: Scenario = {
  seed: 1,
  nodes: 1000,
  topology: "waxman",
  meanDegree: 8,
  flowsPerNode: 2,
  pktIntervalMs: 100,
  durationMs: 300_000,
  warmupMs: 60_000,
  linkFailShare: 0.05,
  linkDownMs: [60_000, 180_000],
  churn: 0,
  churnDownMs: [30_000, 120_000],
  linkDetectMs: 2_000,
  busDelayMs: 25,
  capacityPps: 2_000,
  maxLoss: 0.001,
  params: {},
  liars: [],
  liarHubs: 0,
  liarMode: "smart",
  liarDrop: 0.3,
  liarExtraMs: 40,
  baselineEvery: 4,
  sampleMs: 2_000,
  sampleFlows: 300,
  convergeWindowMs: 60_000,
  convergeEveryMs: 100,
  warmStart: true,
  warmDowntimeMs: 300_000,
  warmWindowMs: 0,
  stretchTarget: 1.15,
};

export interface Convergence {
  /** First time the sampled flows all (≥ 99%) work and their mean latency ≤ target × oracle. */
  meanMs: number;
  /** First time ≥ 95% of sampled pairs are each ≤ target × oracle. */
  pairs95Ms: number;
}

export interface Result {
  scenario: Scenario;
  links: number;
  delivery: number;
  staticDelivery: number;
  randomDelivery: number;
  noPathShare: number;
  stretch: number;
  stretchP95: number;
  staticStretch: number;
  randomStretch: number;
  hopDelivery: number;
  hopStretch: number;
  hopRecoveryP50: number;
  hopRecoveryP95: number;
  recoveryP50: number;
  recoveryP95: number;
  recoveries: number;
  unrecovered: number;
  ctlPerNodeSec: number;
  masterPerNodeSec: number;
  probesPerNodeSec: number;
  buildsPerNodeSec: number;
  switchesPerFlowMin: number;
  failovers: number;
  cold: Convergence;
  warm: Convergence | null;
  /** Share of flows relayed by a lying node: at most over the run, at the end, and honest (static SP). */
  liarPeakShare: number;
  liarEndShare: number;
  liarFairShare: number;
  events: number;
  wallMs: number;
  hash: string;
}

export function runScenario(input: Scenario, progress?: (simMs: number, wallMs: number) => void): Result {
  const t0 = performance.now();
  let sc = input;
  const topo = makeTopology(
    {
      kind: sc.topology,
      n: sc.nodes,
      meanDegree: sc.meanDegree,
      maxLoss: sc.maxLoss,
      capacityPps: sc.capacityPps,
    },
    new Sfc32(subSeed(sc.seed, "topology")),
  );
  if (sc.liarHubs > 0) sc = { ...sc, liars: hubs(topo, sc.liarHubs) };
  const world = new World(sc, topo);
  world.start();
  const sample = sampleFlows(world, sc.sampleFlows);
  world.sampleSet = new Set(sample);
  const cold = watchConvergence(world, sample, sc);
  injectFaults(world, sc);
  const m = world.metrics;
  const stretchSamples = (t: number) => {
    for (const f of sample) {
      const flow = world.flows[f]!;
      if (world.net.nodeUp[flow.src] === 0 || world.net.nodeUp[flow.dst] === 0) continue;
      const o = world.oracleMs(flow.src, flow.dst);
      if (!Number.isFinite(o) || o <= 0) continue;
      const path = world.agents[flow.src]?.choose(flow.dst, t).path;
      const a = path ? world.net.pathMs(flow.src, path) : Number.NaN;
      if (!Number.isNaN(a)) {
        m.agentMs += a;
        m.oracleMs += o;
        m.ratios.push(a / o);
      }
      const s = flow.staticPath ? world.net.pathMs(flow.src, flow.staticPath) : Number.NaN;
      if (!Number.isNaN(s)) {
        m.staticMs += s;
        m.staticOracleMs += o;
      }
      const hop = world.lastHopPath[f];
      const h = hop && hop[hop.length - 1] === flow.dst ? world.net.pathMs(flow.src, hop) : Number.NaN;
      if (!Number.isNaN(h)) {
        m.hopMs += h;
        m.hopOracleMs += o;
      }
      const r = flow.randomPath ? world.net.pathMs(flow.src, flow.randomPath) : Number.NaN;
      if (!Number.isNaN(r)) {
        m.randomMs += r;
        m.randomOracleMs += o;
      }
    }
  };
  for (let t = sc.warmupMs; t <= sc.durationMs; t += sc.sampleMs) world.q.at(t, () => stretchSamples(t));
  const liars = new Set(sc.liars);
  const relayedByLiar = (path: readonly number[] | null | undefined) =>
    !!path && path.some((h, k) => k < path.length - 1 && liars.has(h));
  let liarPeakShare = 0;
  let liarEndShare = 0;
  if (liars.size > 0) {
    for (let t = LIAR_SAMPLE_MS; t <= sc.durationMs; t += LIAR_SAMPLE_MS) {
      world.q.at(t, () => {
        let n = 0;
        for (const f of world.flows) if (relayedByLiar(world.agents[f.src]?.choose(f.dst, t).path)) n++;
        liarEndShare = n / world.flows.length;
        liarPeakShare = Math.max(liarPeakShare, liarEndShare);
      });
    }
  }
  if (progress) {
    for (let t = 30_000; t <= sc.durationMs; t += 30_000)
      world.q.at(t, () => progress(t, performance.now() - t0));
  }
  const liarFairShare = world.flows.filter((f) => relayedByLiar(f.staticPath)).length / world.flows.length;
  world.run(sc.durationMs);

  const windowSec = (sc.durationMs - sc.warmupMs) / 1000;
  const perNodeSec = (x: number) => x / sc.nodes / windowSec;
  let switches = 0;
  let failovers = 0;
  for (const a of world.agents) {
    if (!a) continue;
    switches += a.stats.switches;
    failovers += a.stats.failovers;
  }
  const warm = sc.warmStart ? warmRestart(world, topo, sc) : null;
  const r: Omit<Result, "hash"> = {
    scenario: sc,
    links: topo.a.length,
    delivery: m.delivered / Math.max(1, m.sent),
    staticDelivery: m.staticDelivered / Math.max(1, m.staticSent),
    randomDelivery: m.randomDelivered / Math.max(1, m.randomSent),
    noPathShare: m.noPath / Math.max(1, m.sent),
    stretch: m.agentMs / m.oracleMs,
    stretchP95: quantile(m.ratios, 0.95),
    staticStretch: m.staticMs / m.staticOracleMs,
    randomStretch: m.randomMs / m.randomOracleMs,
    hopDelivery: m.hopDelivered / Math.max(1, m.hopSent),
    hopStretch: m.hopMs / m.hopOracleMs,
    hopRecoveryP50: quantile(m.hopRecoveries, 0.5),
    hopRecoveryP95: quantile(m.hopRecoveries, 0.95),
    recoveryP50: quantile(m.recoveries, 0.5),
    recoveryP95: quantile(m.recoveries, 0.95),
    recoveries: m.recoveries.length,
    unrecovered: m.unrecovered,
    ctlPerNodeSec: perNodeSec(m.master + m.probes + m.builds + m.teardowns),
    masterPerNodeSec: perNodeSec(m.master),
    probesPerNodeSec: perNodeSec(m.probes),
    buildsPerNodeSec: perNodeSec(m.builds + m.teardowns),
    switchesPerFlowMin: switches / world.flows.length / (sc.durationMs / 60_000),
    failovers,
    cold: cold(),
    warm,
    liarPeakShare,
    liarEndShare,
    liarFairShare,
    events: world.q.processed,
    wallMs: performance.now() - t0,
  };
  return { ...r, hash: hashResult(r) };
}

/** The `k` nodes with the most links. */
export function hubs(topo: Topology, k: number): number[] {
  const deg = new Array<number>(topo.n).fill(0);
  for (let i = 0; i < topo.a.length; i++) {
    deg[topo.a[i]!]!++;
    deg[topo.b[i]!]!++;
  }
  return deg
    .map((d, i) => [d, i] as const)
    .sort((x, y) => y[0] - x[0] || x[1] - y[1])
    .slice(0, k)
    .map((e) => e[1]);
}

function sampleFlows(world: World, k: number): number[] {
  const n = world.flows.length;
  const step = Math.max(1, Math.floor(n / k));
  const out: number[] = [];
  for (let f = 0; f < n && out.length < k; f += step) out.push(f);
  return out;
}

/** Schedules convergence samples; the returned function reads the result after the run. */
function watchConvergence(world: World, sample: number[], sc: Scenario): () => Convergence {
  const c: Convergence = { meanMs: Number.NaN, pairs95Ms: Number.NaN };
  for (let t = sc.convergeEveryMs; t <= sc.convergeWindowMs; t += sc.convergeEveryMs) {
    world.q.at(t, () => {
      let eligible = 0;
      let working = 0;
      let within = 0;
      let sa = 0;
      let so = 0;
      for (const f of sample) {
        const flow = world.flows[f]!;
        const o = world.oracleMs(flow.src, flow.dst);
        if (!Number.isFinite(o) || o <= 0 || !world.agents[flow.src]) continue;
        eligible++;
        const path = world.agents[flow.src]!.choose(flow.dst, t).path;
        const a = path ? world.net.pathMs(flow.src, path) : Number.NaN;
        if (Number.isNaN(a)) continue;
        working++;
        sa += a;
        so += o;
        if (a <= sc.stretchTarget * o) within++;
      }
      if (Number.isNaN(c.meanMs) && working >= 0.99 * eligible && sa <= sc.stretchTarget * so) c.meanMs = t;
      if (Number.isNaN(c.pairs95Ms) && within >= 0.95 * eligible) c.pairs95Ms = t;
    });
  }
  return () => c;
}

function injectFaults(world: World, sc: Scenario): void {
  const rng = new Sfc32(subSeed(sc.seed, "faults"));
  const m = world.topo.a.length;
  const start = sc.warmupMs;
  const end = Math.max(start + 1, sc.durationMs - 20_000);
  const links = Array.from({ length: m }, (_, i) => i);
  const nFail = Math.round(sc.linkFailShare * m);
  for (let k = 0; k < nFail; k++) {
    const j = k + Math.floor(rng.next() * (m - k));
    [links[k], links[j]] = [links[j]!, links[k]!];
    const t = start + rng.next() * (end - start);
    const down = sc.linkDownMs[0] + rng.next() * (sc.linkDownMs[1] - sc.linkDownMs[0]);
    const li = links[k]!;
    world.q.at(t, () => world.failLink(li, t, down));
  }
  const nCrash = Math.round(sc.churn * sc.nodes);
  const liars = new Set(sc.liars);
  for (let k = 0; k < nCrash; k++) {
    const i = Math.floor(rng.next() * sc.nodes);
    if (liars.has(i)) continue;
    const t = start + rng.next() * (end - start);
    const down = sc.churnDownMs[0] + rng.next() * (sc.churnDownMs[1] - sc.churnDownMs[0]);
    world.q.at(t, () => world.crashNode(i, t, down));
  }
}

/**
 * Stops every node (clean exit: final write-behind), writes each table through QTableStore, ages it by
 * the downtime on load, and starts the same network again from those tables.
 */
function warmRestart(world: World, topo: Topology, sc: Scenario): Convergence {
  const t = world.q.now;
  const tables: ({ routes: RouteRow[]; links: LinkRow[] } | null)[] = world.agents.map((a, i) => {
    if (!a) return null;
    const store = QTableStore.open(":memory:", { now: t });
    for (const r of world.persisted[i]!.routes.values()) store.stage({ routes: [r], retired: [], links: [] });
    store.stage({ routes: [], retired: [], links: [...world.persisted[i]!.links.values()] });
    store.stage(a.takeChanges());
    store.flush();
    const loaded = store.load(t + sc.warmDowntimeMs);
    store.close();
    return loaded;
  });
  // the first network is over: free its tables (and the pending events that hold them) before the
  // second one is built
  world.q.clear();
  world.agents.fill(null);
  for (const p of world.persisted) {
    p.routes.clear();
    p.links.clear();
  }
  // The restarted network's clock starts at 0: shift the persisted times accordingly.
  const shift = t + sc.warmDowntimeMs;
  const window = sc.warmWindowMs > 0 ? Math.min(sc.warmWindowMs, sc.convergeWindowMs) : sc.convergeWindowMs;
  const warmSc: Scenario = { ...sc, warmupMs: window, durationMs: window, convergeWindowMs: window };
  const w2 = new World(
    warmSc,
    topo,
    (i) => {
      const tb = tables[i];
      if (!tb) return null;
      tables[i] = null;
      return {
        routes: tb.routes.map((r) => ({ ...r, lastMs: r.lastMs - shift })),
        links: tb.links.map((l) => ({ ...l, lastMs: l.lastMs - shift })),
      };
    },
    world.flows,
  );
  w2.start();
  const conv = watchConvergence(w2, sampleFlows(w2, sc.sampleFlows), warmSc);
  w2.run(warmSc.durationMs);
  return conv();
}

function hashResult(r: Omit<Result, "hash">): string {
  const parts = [
    r.delivery,
    r.staticDelivery,
    r.stretch,
    r.recoveryP50,
    r.ctlPerNodeSec,
    r.cold.meanMs,
    r.warm?.meanMs ?? -1,
    r.events,
  ];
  let h = 0x811c9dc5;
  for (const ch of parts.map((x) => x.toFixed(9)).join("|")) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}
