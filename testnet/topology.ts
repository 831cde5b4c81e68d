/**
 * Topologies: the JSON file format (validated as hostile input) and the built-in ones.
 *
 * ```json
 * {
 *   "hosts":    ["a", { "name": "b", "gateway": "r1" }],
 *   "routers":  [{ "name": "r1", "nat": true, "wan": "public", "gateway": "up" }],
 *   "segments": [{ "name": "lan1", "members": ["r1", "b"] }],
 *   "links":    [["a", "b"], { "a": "a", "b": "r1" }]
 * }
 * ```
 * A link joins two nodes with a veth pair (its own /30). A segment is a switch (a bridge in its
 * own namespace) with one /24 shared by its members. `gateway` names a router that shares a link
 * or segment with the node and becomes its default route. A router forwards; with `nat` it
 * masquerades out of its `wan` side (a segment name or a linked node) and accepts from there only
 * replies and ICMP: `true` keeps source ports where it can (endpoint-independent mapping, like
 * most home routers), `"symmetric"` randomises them per connection.
 */
import { readFileSync } from "node:fs";
import { TopologyError } from "./errors.ts";
import { checkNodeName } from "./names.ts";

export type NatMode = "masquerade" | "symmetric";

export interface HostSpec {
  name: string;
  gateway?: string;
}
export interface RouterSpec {
  name: string;
  nat?: boolean | "symmetric";
  wan?: string;
  gateway?: string;
}
export interface SegmentSpec {
  name: string;
  members: string[];
}
export interface LinkSpec {
  a: string;
  b: string;
}
export interface TopologySpec {
  hosts: (string | HostSpec)[];
  routers?: RouterSpec[];
  segments?: SegmentSpec[];
  links?: ([string, string] | LinkSpec)[];
}

/** A checked topology: every name unique and every reference resolved. */
export interface Topology {
  name: string;
  hosts: HostSpec[];
  routers: RouterSpec[];
  segments: SegmentSpec[];
  links: LinkSpec[];
}

export const BUILTIN_TOPOLOGIES = ["pair", "line5", "ring6", "nat4", "random"] as const;

const MAX_NODES = 500;

/** Resolves a built-in name (`pair`, `line5`, `ring6`, `nat4`, `random:N` / `random` + nodes) or a file. */
export function loadTopology(nameOrFile: string, opts: { nodes?: number; seed?: number } = {}): Topology {
  const random = /^random(?::(\d+))?$/.exec(nameOrFile);
  if (random) {
    const n = random[1] !== undefined ? Number(random[1]) : (opts.nodes ?? 6);
    return randomTopology(n, opts.seed ?? 1);
  }
  switch (nameOrFile) {
    case "pair":
      return checkTopology("pair", { hosts: ["h1", "h2"], links: [["h1", "h2"]] });
    case "line5":
      return checkTopology("line5", { hosts: hostNames(5), links: chain(5, false) });
    case "ring6":
      return checkTopology("ring6", { hosts: hostNames(6), links: chain(6, true) });
    case "nat4":
      return checkTopology("nat4", NAT4);
  }
  if (!nameOrFile.includes("/") && !nameOrFile.endsWith(".json")) {
    throw new TopologyError(`unknown topology '${nameOrFile}' (built-in: ${BUILTIN_TOPOLOGIES.join(", ")})`);
  }
  let text: string;
  try {
    text = readFileSync(nameOrFile, "utf8");
  } catch (err) {
    throw new TopologyError(`cannot read topology file ${nameOrFile}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TopologyError(`topology file ${nameOrFile} is not JSON`, { cause: err });
  }
  return checkTopology(nameOrFile, json);
}

/**
 *   h1   h2        h3   h4        hosts: no public address, default route via their router
 *    \   /          \   /
 *    [lan1]         [lan2]        198.18.2.0/24, 198.18.3.0/24 (bridges)
 *      |              |
 *      r1 (NAT)       r2 (NAT)    masquerade onto public; new inbound connections dropped
 *       \            /
 *        [ public ]──control      198.18.1.0/24: control (.1), r1 (.2), r2 (.3)
 */
const NAT4: TopologySpec = {
  hosts: [
    "control",
    { name: "h1", gateway: "r1" },
    { name: "h2", gateway: "r1" },
    { name: "h3", gateway: "r2" },
    { name: "h4", gateway: "r2" },
  ],
  routers: [
    { name: "r1", nat: true, wan: "public" },
    { name: "r2", nat: true, wan: "public" },
  ],
  segments: [
    { name: "public", members: ["control", "r1", "r2"] },
    { name: "lan1", members: ["r1", "h1", "h2"] },
    { name: "lan2", members: ["r2", "h3", "h4"] },
  ],
};

function hostNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `h${i + 1}`);
}

function chain(n: number, ring: boolean): [string, string][] {
  const links: [string, string][] = [];
  for (let i = 1; i < n; i++) links.push([`h${i}`, `h${i + 1}`]);
  if (ring) links.push([`h${n}`, "h1"]);
  return links;
}

/** mulberry32: a small seedable PRNG, enough to make `random N --seed S` reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A connected random graph on h1..hN: a random spanning tree (each new host joins a random earlier
 * one), plus about N/2 extra distinct links, so there are cycles and alternative paths.
 */
export function randomTopology(n: number, seed: number): Topology {
  if (!Number.isInteger(n) || n < 2 || n > 200) throw new TopologyError(`random N needs 2 ≤ N ≤ 200: ${n}`);
  const rnd = prng(seed);
  const pick = (k: number) => Math.floor(rnd() * k);
  const seen = new Set<string>();
  const links: [string, string][] = [];
  const add = (i: number, j: number): boolean => {
    const key = i < j ? `${i}-${j}` : `${j}-${i}`;
    if (i === j || seen.has(key)) return false;
    seen.add(key);
    links.push([`h${Math.min(i, j)}`, `h${Math.max(i, j)}`]);
    return true;
  };
  for (let i = 2; i <= n; i++) add(i, 1 + pick(i - 1));
  const maxLinks = (n * (n - 1)) / 2;
  const extra = Math.min(Math.floor(n / 2), maxLinks - links.length);
  for (let added = 0, tries = 0; added < extra && tries < 100 * n; tries++) {
    if (add(1 + pick(n), 1 + pick(n))) added++;
  }
  return checkTopology(`random:${n}:seed=${seed}`, { hosts: hostNames(n), links });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optionalName(v: unknown, what: string): string | undefined {
  return v === undefined || v === null ? undefined : checkNodeName(v, what);
}

function checkKeys(o: Record<string, unknown>, allowed: string[], what: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new TopologyError(`${what}: unknown field '${k}'`);
  }
}

function list(v: unknown, what: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new TopologyError(`${what} must be an array`);
  if (v.length > MAX_NODES * 4) throw new TopologyError(`${what}: too many entries`);
  return v;
}

/** Validates an untrusted topology document and resolves every reference. */
export function checkTopology(name: string, doc: unknown): Topology {
  if (!isObject(doc)) throw new TopologyError("topology must be a JSON object");
  checkKeys(doc, ["hosts", "routers", "segments", "links", "comment"], "topology");
  const hosts = list(doc.hosts, "hosts").map((h): HostSpec => {
    if (typeof h === "string") return { name: checkNodeName(h, "host") };
    if (!isObject(h)) throw new TopologyError("a host is a name or { name, gateway? }");
    checkKeys(h, ["name", "gateway"], "host");
    const gateway = optionalName(h.gateway, "gateway");
    return { name: checkNodeName(h.name, "host"), ...(gateway ? { gateway } : {}) };
  });
  const routers = list(doc.routers, "routers").map((r): RouterSpec => {
    if (!isObject(r)) throw new TopologyError("a router is { name, nat?, wan?, gateway? }");
    checkKeys(r, ["name", "nat", "wan", "gateway"], "router");
    if (r.nat !== undefined && typeof r.nat !== "boolean" && r.nat !== "symmetric") {
      throw new TopologyError(`router nat must be true, false or "symmetric"`);
    }
    const wan = optionalName(r.wan, "wan");
    const gateway = optionalName(r.gateway, "gateway");
    const out: RouterSpec = { name: checkNodeName(r.name, "router") };
    if (r.nat) out.nat = r.nat as true | "symmetric";
    if (wan) out.wan = wan;
    if (gateway) out.gateway = gateway;
    return out;
  });
  const segments = list(doc.segments, "segments").map((s): SegmentSpec => {
    if (!isObject(s)) throw new TopologyError("a segment is { name, members: [...] }");
    checkKeys(s, ["name", "members"], "segment");
    const members = list(s.members, "segment members").map((m) => checkNodeName(m, "segment member"));
    if (members.length > 253) throw new TopologyError("a segment has at most 253 members");
    return { name: checkNodeName(s.name, "segment"), members };
  });
  const links = list(doc.links, "links").map((l): LinkSpec => {
    if (Array.isArray(l) && l.length === 2) {
      return { a: checkNodeName(l[0], "link end"), b: checkNodeName(l[1], "link end") };
    }
    if (!isObject(l)) throw new TopologyError('a link is ["a", "b"] or { "a": ..., "b": ... }');
    checkKeys(l, ["a", "b"], "link");
    return { a: checkNodeName(l.a, "link end"), b: checkNodeName(l.b, "link end") };
  });
  const topo: Topology = { name, hosts, routers, segments, links };
  checkReferences(topo);
  return topo;
}

function checkReferences(t: Topology): void {
  const kinds = new Map<string, "host" | "router" | "segment">();
  const declare = (n: string, kind: "host" | "router" | "segment") => {
    if (kinds.has(n)) throw new TopologyError(`duplicate name '${n}'`);
    kinds.set(n, kind);
  };
  for (const h of t.hosts) declare(h.name, "host");
  for (const r of t.routers) declare(r.name, "router");
  for (const s of t.segments) declare(s.name, "segment");
  if (kinds.size > MAX_NODES) throw new TopologyError(`at most ${MAX_NODES} nodes`);
  if (t.hosts.length + t.routers.length === 0) throw new TopologyError("a topology needs at least one host");
  const isNode = (n: string) => kinds.get(n) === "host" || kinds.get(n) === "router";
  const pairs = new Set<string>();
  for (const l of t.links) {
    if (!isNode(l.a) || !isNode(l.b))
      throw new TopologyError(`link ${l.a}–${l.b}: ends must be hosts/routers`);
    if (l.a === l.b) throw new TopologyError(`link ${l.a}–${l.b} joins a node to itself`);
    const key = [l.a, l.b].sort().join("\0");
    if (pairs.has(key)) throw new TopologyError(`duplicate link ${l.a}–${l.b}`);
    pairs.add(key);
  }
  for (const s of t.segments) {
    if (new Set(s.members).size !== s.members.length)
      throw new TopologyError(`segment ${s.name}: repeated member`);
    for (const m of s.members) {
      if (!isNode(m)) throw new TopologyError(`segment ${s.name}: member '${m}' is not a host or router`);
    }
  }
  const adjacent = (a: string, b: string) =>
    pairs.has([a, b].sort().join("\0")) ||
    t.segments.some((s) => s.members.includes(a) && s.members.includes(b));
  for (const n of [...t.hosts, ...t.routers]) {
    if (n.gateway === undefined) continue;
    if (kinds.get(n.gateway) !== "router")
      throw new TopologyError(`${n.name}: gateway '${n.gateway}' is not a router`);
    if (!adjacent(n.name, n.gateway))
      throw new TopologyError(`${n.name}: gateway ${n.gateway} is not adjacent`);
  }
  for (const r of t.routers) {
    if (!r.nat) continue;
    if (r.wan === undefined)
      throw new TopologyError(`router ${r.name}: nat needs a 'wan' (segment or linked node)`);
    const viaSegment = t.segments.some((s) => s.name === r.wan && s.members.includes(r.name));
    if (!viaSegment && !(isNode(r.wan) && pairs.has([r.name, r.wan].sort().join("\0")))) {
      throw new TopologyError(`router ${r.name}: wan '${r.wan}' is neither its segment nor a linked node`);
    }
  }
}
