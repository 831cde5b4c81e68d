/**
 * `veilnet routes`: the agent's view in overlay addresses — per destination the active path, the
 * standby, every candidate with its estimates and ages, and per neighbour the link RTT and
 * suspicion — plus what the multi-hop plane counted.
 */
import type { Hops, NodeId } from "../../../rl/types.ts";
import type { MultiHop } from "./router.ts";

const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);

export function routesView(m: MultiHop, now: number): Record<string, unknown> {
  const name = (n: NodeId) => m.dir.name(n);
  const hops = (h: Hops | null) => (h ? h.map(name) : null);
  const snap = m.agent.snapshot(now);
  return {
    self: name(snap.self),
    pathTun: m.tun.name,
    routedToPaths: m.tun.routes(),
    neighbours: snap.neighbours.map((n) => ({
      node: name(n.id),
      up: n.up,
      rttMs: round(n.rttMs),
      suspicion: round(n.suspicion),
    })),
    destinations: snap.destinations.map((d) => {
      const active = d.candidates.find((c) => c.pathId === d.activeId);
      const standby = d.candidates.find((c) => c.pathId === d.standbyId);
      return {
        dest: name(d.dest),
        active: active ? hops(active.hops) : null,
        activePathId: d.activeId,
        activeForS: round(d.activeForMs / 1000, 1),
        standby: standby ? hops(standby.hops) : null,
        advertisedMs: round(d.advertisedMs),
        candidates: d.candidates.map((c) => ({
          pathId: c.pathId,
          hops: hops(c.hops),
          state: c.state,
          costMs: round(c.costMs),
          rttMs: round(c.rttMs),
          sdMs: round(c.sdMs),
          loss: round(c.loss, 3),
          samples: round(c.samples, 1),
          ageS: round(c.ageMs / 1000, 1),
          lastOkAgoS: round(c.lastOkAgoMs / 1000, 1),
          ready: m.builds.origins.get(c.pathId)?.ready ?? false,
        })),
      };
    }),
    knownDestinations: snap.knownDestinations,
    agent: m.agent.stats,
    builds: m.builds.counters,
    links: m.links.counters,
    pathTunCounters: m.tun.counters,
    counters: m.counters,
    pathSwitch: { forwarded: m.paths.sw.forwarded, paths: m.paths.sw.table.size },
  };
}
