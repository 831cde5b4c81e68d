/**
 * Builds a plan in the kernel and tears it down again.
 *
 * Veth pairs are created directly inside their namespaces (`ip link add A netns X type veth peer
 * name B netns Y`), so nothing ever appears in the host's own namespace, and deleting a run's
 * namespaces deletes every interface it made. Each namespace is configured by one `ip -batch`.
 */
import { TestnetError } from "./errors.ts";
import { bridgeName } from "./names.ts";
import type { Plan, PlanNode } from "./plan.ts";
import { inRecordedGroup, killMarked, runMarker, signalGroup, stopTracked } from "./procs.ts";
import { inNetns, listNetns, run } from "./run.ts";
import { listProcs, removeRunDir } from "./state.ts";

/** At most this many configuration commands run at once (the machine has two cores). */
const PARALLEL = 6;

async function inParallel<T>(items: T[], fn: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(PARALLEL, queue.length) }, async () => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) await fn(t);
  });
  await Promise.all(workers);
}

export async function buildPlan(plan: Plan): Promise<void> {
  const root: string[] = plan.nodes.map((n) => `netns add ${n.netns}`);
  for (const e of plan.edges) {
    const [a, b] = e.ends;
    root.push(`link add ${a.ifname} netns ${a.netns} type veth peer name ${b.ifname} netns ${b.netns}`);
  }
  await run(["ip", "-batch", "-"], { stdin: `${root.join("\n")}\n`, env: runMarker(plan.prefix) });
  await inParallel(plan.nodes, (node) => configureNode(plan, node));
  await settle(plan);
}

const SETTLE_TIMEOUT_MS = 5000;

/**
 * Waits until every veth of the plan is operationally up with its queueing discipline attached.
 * Carrier changes reach the kernel's link watcher asynchronously; until it runs, a fresh veth
 * still has the `noop` qdisc and silently drops what is sent, so the first packets after `up`
 * would be lost.
 */
async function settle(plan: Plan): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  const byNetns = new Map<string, string[]>();
  for (const e of plan.edges)
    for (const end of e.ends) byNetns.set(end.netns, [...(byNetns.get(end.netns) ?? []), end.ifname]);
  await inParallel([...byNetns], async ([netns, ifnames]) => {
    for (;;) {
      const out = (await run(["ip", "-n", netns, "-o", "link", "show"])).stdout;
      const ready = ifnames.every((name) => {
        const line = out.split("\n").find((l) => l.includes(` ${name}@`) || l.includes(` ${name}:`));
        if (line === undefined) return false;
        return line.includes("LOWER_UP") && / state UP /.test(line) && !line.includes("qdisc noop");
      });
      if (ready) return;
      if (Date.now() > deadline)
        throw new TestnetError("TESTNET_SETTLE", `interfaces in ${netns} did not come up`);
      await Bun.sleep(10);
    }
  });
}

async function configureNode(plan: Plan, node: PlanNode): Promise<void> {
  const cmds = ["link set lo up"];
  if (node.kind === "segment") {
    const br = bridgeName(plan.prefix);
    cmds.push(`link add ${br} type bridge`, `link set ${br} up`);
    for (const e of plan.edges) {
      if (e.kind === "port" && e.ends[1].node === node.name) {
        cmds.push(`link set ${e.ends[1].ifname} master ${br}`, `link set ${e.ends[1].ifname} up`);
      }
    }
  } else {
    for (const e of plan.edges) {
      for (const end of e.ends) {
        if (end.node !== node.name || !end.address) continue;
        cmds.push(`addr add ${end.address}/${end.prefixLen} dev ${end.ifname}`, `link set ${end.ifname} up`);
      }
    }
    if (node.gateway) cmds.push(`route replace default via ${node.gateway.via} dev ${node.gateway.dev}`);
  }
  await run(["ip", "-n", node.netns, "-batch", "-"], { stdin: `${cmds.join("\n")}\n` });
  if (node.forward) await run(inNetns(node.netns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]));
  if (node.nat)
    await run(inNetns(node.netns, ["nft", "-f", "-"]), { stdin: natRules(plan.prefix, node.nat) });
}

/**
 * A NAT router: masquerade out of the WAN side; from the WAN accept only replies (conntrack) and
 * ICMP addressed to the router itself. So nobody outside can open a connection to the LAN or to
 * the router, while UDP hole punching (a reply to an outgoing flow) works.
 */
function natRules(prefix: string, nat: NonNullable<PlanNode["nat"]>): string {
  const wan = JSON.stringify(nat.wanIf);
  const masq = nat.mode === "symmetric" ? "masquerade fully-random" : "masquerade";
  return `table inet ${prefix} {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; oifname ${wan} ${masq}; }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname ${wan} ct state established,related accept
    iifname ${wan} drop
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname ${wan} ct state established,related accept
    iifname ${wan} meta l4proto icmp accept
    iifname ${wan} drop
  }
}
`;
}

export interface TeardownReport {
  namespaces: string[];
  stopped: number;
  /** Processes still inside a namespace that the harness did not start (left alone, reported). */
  foreign: { netns: string; pid: number }[];
}

/**
 * Removes everything a run made: its processes (recorded ones get SIGTERM first; anything else
 * still carrying the run marker, such as a configuration command orphaned by a killed `up`,
 * gets SIGKILL), then every namespace of the plan and every
 * namespace whose name carries the prefix (which takes their interfaces, nft tables and qdiscs
 * with them), then the state directory. Safe to call on a half-built or already removed run.
 */
export async function teardownRun(prefix: string, plan?: Plan): Promise<TeardownReport> {
  const recorded = new Set(listProcs(prefix).map((r) => r.pid));
  const stopped = (await stopTracked(prefix)) + (await killMarked(prefix));
  const existing = new Set(await listNetns());
  const names = new Set<string>();
  for (const n of plan?.nodes ?? []) if (existing.has(n.netns)) names.add(n.netns);
  for (const n of existing) if (n.startsWith(`${prefix}-`)) names.add(n);
  const foreign: TeardownReport["foreign"] = [];
  for (const netns of names) {
    const r = await run(["ip", "netns", "pids", netns], { check: false });
    for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
      if (inRecordedGroup(pid, recorded)) signalGroup(pid, "SIGKILL");
      else foreign.push({ netns, pid });
    }
  }
  if (names.size > 0) {
    const lines = [...names].map((n) => `netns del ${n}`).join("\n");
    await run(["ip", "-force", "-batch", "-"], { stdin: `${lines}\n`, check: false });
  }
  removeRunDir(prefix);
  return { namespaces: [...names], stopped, foreign };
}
