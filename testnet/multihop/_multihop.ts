/**
 * A veilnet deployment whose data path can only be multi-hop: hosts h1..hN form a line or a ring
 * of UDP-capable links, and every host also sits on a `ctl` segment with the `control` host
 * (Master 2×2 NATS super cluster + Guardian) on which nftables drops all UDP, so only TCP to
 * NATS and Guardian passes there. Two hosts that share no link can only reach each other through
 * other Conflux nodes. Real nats-server, real TUN, real namespaces, the real executable.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DemoMesh, type DemoNode, waitFor } from "../demo/demo-mesh.ts";
import { dumpLogs, isRoot, veilnetCommand } from "../e2e/_deployment.ts";
import { Mesh } from "../mesh.ts";
import type { TopologySpec } from "../topology.ts";

export { isRoot, waitFor };
export const CONTROL = "control";

export function multihopTopology(kind: "line" | "ring", n: number): TopologySpec {
  const hosts = Array.from({ length: n }, (_, i) => `h${i + 1}`);
  const links: [string, string][] = [];
  for (let i = 0; i + 1 < n; i++) links.push([hosts[i]!, hosts[i + 1]!]);
  if (kind === "ring") links.push([hosts[n - 1]!, hosts[0]!]);
  return {
    hosts: [CONTROL, ...hosts],
    segments: [{ name: "ctl", members: [CONTROL, ...hosts] }],
    links,
  } as TopologySpec;
}

export interface MultihopNet {
  readonly mesh: Mesh;
  readonly demo: DemoMesh;
  readonly hosts: string[];
  /** Overlay IPv4 of each host's node. */
  readonly ips: Map<string, string>;
  readonly log: (line: string) => void;
}

/** Drops every UDP datagram on each host's `ctl` interface, both ways. */
async function blockUdpOnControlSegment(mesh: Mesh, hosts: string[]): Promise<void> {
  for (const h of [CONTROL, ...hosts]) {
    const ifs = mesh.hosts[h]!.interfaces.filter((i) => i.peer === "ctl").map((i) => i.name);
    if (ifs.length !== 1) throw new Error(`${h} has ${ifs.length} ctl interfaces`);
    const table = `${mesh.prefix}mh`;
    const rules = `table inet ${table} {
  chain in { type filter hook input priority 0; iifname "${ifs[0]}" meta l4proto udp drop; }
  chain out { type filter hook output priority 0; oifname "${ifs[0]}" meta l4proto udp drop; }
}
`;
    const r = await mesh.exec(h, ["nft", "-f", "-"], { stdin: rules, timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`nft on ${h}: ${r.stderr}`);
  }
}

export async function deployMultihop(
  kind: "line" | "ring",
  n: number,
  o: { env?: Record<string, Record<string, string>> } = {},
): Promise<MultihopNet> {
  const command = veilnetCommand();
  const t0 = performance.now();
  const log = (line: string) =>
    console.log(`[multihop ${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  log(`veilnet command: ${command.kind}`);
  const hosts = Array.from({ length: n }, (_, i) => `h${i + 1}`);
  const mesh = await Mesh.up({ topology: multihopTopology(kind, n) });
  let demo: DemoMesh | undefined;
  try {
    await blockUdpOnControlSegment(mesh, hosts);
    demo = await DemoMesh.start(mesh, { veilnet: command.argv, controlHost: CONTROL, nodeHosts: [], log });
    for (const h of hosts) startNode(demo, h, o.env?.[h]);
    const ips = new Map<string, string>();
    await waitFor("every node to enrol", 90_000, async () => {
      for (const h of hosts) {
        const s = await demo!.localStatus(h);
        if (!s) return false;
        ips.set(h, String(s.ipv4));
      }
      return true;
    });
    log(`nodes enrolled: ${[...ips].map(([h, ip]) => `${h}=${ip}`).join(" ")}`);
    return { mesh, demo, hosts, ips, log };
  } catch (err) {
    if (demo) dumpLogs(demo);
    await mesh.destroy();
    demo?.cleanupFiles();
    throw err;
  }
}

/** Starts (or restarts) a node like DemoMesh.startNode, with extra environment. */
export function startNode(demo: DemoMesh, host: string, env?: Record<string, string>): DemoNode {
  if (!env) return demo.startNode(host);
  // DemoMesh.startNode has no environment option: the same command line, with `env`.
  const stateDir = join(demo.dir, "nodes", host);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const argv = [
    ...demo.o.veilnet,
    "--role",
    "conflux",
    "--state",
    stateDir,
    "--guardian",
    `https://${demo.controlIp}:7443`,
    "--token",
    demo.token,
    "--realm",
    demo.o.realm ?? "demo",
    "--guardian-ca",
    join(demo.dir, "trust", "ca.pem"),
    "--tun",
    "veil0",
  ];
  const proc = demo.mesh.spawn(host, argv, { env, logFile: join(demo.dir, "logs", `${host}.log`) });
  const node = { host, stateDir, proc };
  demo.nodes.set(host, node);
  return node;
}

export async function destroyMultihop(net: MultihopNet | undefined, failed: boolean): Promise<void> {
  if (!net) return;
  if (failed) dumpLogs(net.demo, 40);
  await net.mesh.destroy();
  net.demo.cleanupFiles();
}

export interface RouteView {
  dest: string;
  active: string[] | null;
  activePathId: number;
  standby: string[] | null;
  candidates: {
    pathId: number;
    hops: string[];
    state: string;
    rttMs: number | null;
    costMs: number | null;
    ready: boolean;
  }[];
}

export async function routes(
  net: MultihopNet,
  host: string,
): Promise<{ destinations: RouteView[] } & Record<string, unknown>> {
  const r = (await net.demo.localQuery(host, "routes")) as
    | ({ destinations: RouteView[] } & Record<string, unknown>)
    | undefined;
  return r ?? { destinations: [] };
}

/** The active path (overlay addresses of the hops) from `host` to `dest`, or null. */
export async function activePath(net: MultihopNet, host: string, dest: string): Promise<string[] | null> {
  const ip = net.ips.get(dest)!;
  const r = await routes(net, host);
  return r.destinations.find((d) => d.dest === ip)?.active ?? null;
}

/** Host names for overlay addresses. */
export function hostsOf(net: MultihopNet, ips: readonly string[] | null): string[] {
  const byIp = new Map([...net.ips].map(([h, ip]) => [ip, h]));
  return (ips ?? []).map((ip) => byIp.get(ip) ?? ip);
}

export interface PingLog {
  /** icmp_seq → receive time (ms since the ping started, from the -D timestamps). */
  readonly replies: Map<number, number>;
  readonly sent: number;
  readonly received: number;
  /** Largest interval between consecutive replies, ms. */
  readonly maxGapMs: number;
}

/** Parses `ping -D -n` output. */
export function parsePing(out: string): PingLog {
  const replies = new Map<number, number>();
  let first = Number.NaN;
  for (const m of out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+)/gm)) {
    const t = Number(m[1]) * 1000;
    if (Number.isNaN(first)) first = t;
    replies.set(Number(m[2]), t - first);
  }
  const times = [...replies.values()].sort((a, b) => a - b);
  let maxGap = 0;
  for (let i = 1; i < times.length; i++) maxGap = Math.max(maxGap, times[i]! - times[i - 1]!);
  const s = /(\d+) packets transmitted, (\d+) received/.exec(out);
  return { replies, sent: Number(s?.[1] ?? 0), received: Number(s?.[2] ?? 0), maxGapMs: maxGap };
}
