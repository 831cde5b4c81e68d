/**
 * Turns a checked topology and a run prefix into a plan: every namespace, veth pair, address,
 * default route and NAT rule the run will create, named before anything is built (so a crashed
 * `up` can be cleaned from the plan alone).
 *
 * Addresses (all inside 198.18.0.0/15, the benchmarking range):
 *   link k       198.19.0.0/16 in /30s: 198.19.(4k>>8).(4k&255)+1 on end a, +2 on end b
 *   segment s    198.18.(s+1).0/24: member i gets .(i+1) (routers usually listed first → .1)
 */
import { TopologyError } from "./errors.ts";
import { MAX_EDGES, netnsName, vethName } from "./names.ts";
import type { NatMode, Topology } from "./topology.ts";

export type NodeKind = "host" | "router" | "segment";

export interface PlanEnd {
  node: string;
  netns: string;
  ifname: string;
  /** Absent on a segment's bridge port. */
  address?: string;
  prefixLen?: number;
}

export interface PlanEdge {
  index: number;
  /** `link`: node–node veth pair. `port`: node–segment veth pair, end b is the bridge port. */
  kind: "link" | "port";
  subnet: string;
  ends: [PlanEnd, PlanEnd];
}

export interface PlanNode {
  name: string;
  kind: NodeKind;
  netns: string;
  forward: boolean;
  nat?: { mode: NatMode; wanIf: string };
  gateway?: { via: string; dev: string; edge: number };
}

export interface Plan {
  prefix: string;
  topology: string;
  nodes: PlanNode[];
  edges: PlanEdge[];
}

const LINK_BASE = ipv4ToInt("198.19.0.0");
const LINK_SPACE = 1 << 16;
const MAX_SEGMENTS = 254;

export function ipv4ToInt(a: string): number {
  const p = a.split(".").map(Number);
  return (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function makePlan(topo: Topology, prefix: string): Plan {
  const nodes: PlanNode[] = [];
  for (const h of topo.hosts)
    nodes.push({ name: h.name, kind: "host", netns: netnsName(prefix, h.name), forward: false });
  for (const r of topo.routers)
    nodes.push({ name: r.name, kind: "router", netns: netnsName(prefix, r.name), forward: true });
  for (const s of topo.segments)
    nodes.push({ name: s.name, kind: "segment", netns: netnsName(prefix, s.name), forward: false });
  const ns = (n: string) => netnsName(prefix, n);

  const edges: PlanEdge[] = [];
  const total = topo.links.length + topo.segments.reduce((k, s) => k + s.members.length, 0);
  if (total > MAX_EDGES) throw new TopologyError(`too many links (${total} > ${MAX_EDGES})`);
  if (topo.links.length * 4 > LINK_SPACE) throw new TopologyError("too many links for 198.19.0.0/16");
  if (topo.segments.length > MAX_SEGMENTS) throw new TopologyError(`at most ${MAX_SEGMENTS} segments`);

  topo.links.forEach((l, k) => {
    const base = LINK_BASE + 4 * k;
    const index = edges.length;
    edges.push({
      index,
      kind: "link",
      subnet: `${intToIpv4(base)}/30`,
      ends: [
        {
          node: l.a,
          netns: ns(l.a),
          ifname: vethName(prefix, index, 0),
          address: intToIpv4(base + 1),
          prefixLen: 30,
        },
        {
          node: l.b,
          netns: ns(l.b),
          ifname: vethName(prefix, index, 1),
          address: intToIpv4(base + 2),
          prefixLen: 30,
        },
      ],
    });
  });
  topo.segments.forEach((s, si) => {
    const base = ipv4ToInt(`198.18.${si + 1}.0`);
    s.members.forEach((m, mi) => {
      const index = edges.length;
      edges.push({
        index,
        kind: "port",
        subnet: `${intToIpv4(base)}/24`,
        ends: [
          {
            node: m,
            netns: ns(m),
            ifname: vethName(prefix, index, 0),
            address: intToIpv4(base + mi + 1),
            prefixLen: 24,
          },
          { node: s.name, netns: ns(s.name), ifname: vethName(prefix, index, 1) },
        ],
      });
    });
  });

  const plan: Plan = { prefix, topology: topo.name, nodes, edges };
  for (const spec of [...topo.hosts, ...topo.routers]) {
    const node = nodes.find((n) => n.name === spec.name)!;
    if (spec.gateway) node.gateway = resolveGateway(plan, spec.name, spec.gateway);
  }
  for (const r of topo.routers) {
    if (!r.nat || !r.wan) continue;
    const node = nodes.find((n) => n.name === r.name)!;
    const edge =
      edges.find((e) => e.ends[0].node === r.name && e.ends[1].node === r.wan) ??
      edges.find((e) => e.kind === "link" && e.ends[1].node === r.name && e.ends[0].node === r.wan);
    const end = edge?.ends.find((x) => x.node === r.name);
    if (!end) throw new TopologyError(`router ${r.name}: no interface toward ${r.wan}`);
    node.nat = { mode: r.nat === "symmetric" ? "symmetric" : "masquerade", wanIf: end.ifname };
  }
  return plan;
}

/** The edge(s) joining two nodes directly: a link, or the two ports of a shared segment. */
export function sharedEdges(
  plan: Plan,
  a: string,
  b: string,
): { local: PlanEnd; remote: PlanEnd; edge: PlanEdge }[] {
  const out: { local: PlanEnd; remote: PlanEnd; edge: PlanEdge }[] = [];
  for (const e of plan.edges) {
    if (e.kind === "link") {
      if (e.ends[0].node === a && e.ends[1].node === b)
        out.push({ local: e.ends[0], remote: e.ends[1], edge: e });
      if (e.ends[1].node === a && e.ends[0].node === b)
        out.push({ local: e.ends[1], remote: e.ends[0], edge: e });
    }
  }
  for (const e of plan.edges) {
    if (e.kind !== "port" || e.ends[0].node !== a) continue;
    const peer = plan.edges.find(
      (f) => f.kind === "port" && f.ends[1].node === e.ends[1].node && f.ends[0].node === b,
    );
    if (peer) out.push({ local: e.ends[0], remote: peer.ends[0], edge: e });
  }
  return out;
}

function resolveGateway(plan: Plan, node: string, router: string): PlanNode["gateway"] {
  const shared = sharedEdges(plan, node, router)[0];
  if (!shared?.remote.address)
    throw new TopologyError(`${node}: no address of gateway ${router} on a shared link`);
  return { via: shared.remote.address, dev: shared.local.ifname, edge: shared.edge.index };
}
