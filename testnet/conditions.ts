/**
 * Link conditions, applied to both ends of an edge (a node–node link, or a node's port on a
 * segment, whose far end is the bridge port):
 *
 *   down/up   `ip link set` on both ends; up restores default routes that used the edge
 *   loss P    each frame arriving at either end is dropped with probability P % (per direction,
 *             so a ping round trip is lost with 1-(1-P)^2); ARP is spared so neighbour
 *             resolution does not amplify the loss. nft netdev *ingress* hook, `numgen random`:
 *             dropping on the receiver keeps the loss silent to the sender (an egress drop
 *             would fail its send with ENOBUFS, which a real lossy link never does).
 *   rate M    tbf at M Mbit/s on the egress of both ends
 *   delay D   adds D ms of round-trip time: D/2 on the egress of each end, by a userspace
 *             delay forwarder (see delay/forwarder.ts), because the kernel has no netem
 *   clear     removes all of the above and sets the link up
 *
 * Everything lives in one `table netdev <prefix>` per namespace, chains named after the interface.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MeshUsageError, TestnetError } from "./errors.ts";
import { chainSuffix, DELAY_MARK, tapName } from "./names.ts";
import type { Plan, PlanEdge, PlanEnd } from "./plan.ts";
import { spawnTracked, stopTracked } from "./procs.ts";
import { inNetns, run } from "./run.ts";
import { type LinkCondition, logDir, readCondition, writeCondition } from "./state.ts";

const FORWARDER = join(import.meta.dir, "delay", "forwarder.ts");
const READY_TIMEOUT_MS = 10_000;

function nft(end: PlanEnd, script: string): Promise<unknown> {
  return run(inNetns(end.netns, ["nft", "-f", "-"]), { stdin: script });
}

async function existingChains(prefix: string, end: PlanEnd): Promise<Set<string>> {
  const r = await run(inNetns(end.netns, ["nft", "list", "table", "netdev", prefix]), { check: false });
  return new Set([...r.stdout.matchAll(/^\s*chain (\S+) \{/gm)].map((m) => m[1]!));
}

async function deleteChains(prefix: string, end: PlanEnd, names: string[]): Promise<void> {
  const have = await existingChains(prefix, end);
  const del = names.filter((n) => have.has(n)).map((n) => `delete chain netdev ${prefix} ${n}`);
  if (del.length > 0) await nft(end, `${del.join("\n")}\n`);
}

async function setLoss(prefix: string, end: PlanEnd, pct: number): Promise<void> {
  const chain = `loss_${chainSuffix(end.ifname)}`;
  if (pct === 0) return deleteChains(prefix, end, [chain]);
  const threshold = Math.round(pct * 100);
  await nft(
    end,
    `add table netdev ${prefix}
add chain netdev ${prefix} ${chain} { type filter hook ingress device "${end.ifname}" priority 0; policy accept; }
flush chain netdev ${prefix} ${chain}
add rule netdev ${prefix} ${chain} meta protocol != arp numgen random mod 10000 < ${threshold} counter drop
`,
  );
}

async function setRate(end: PlanEnd, mbit: number): Promise<void> {
  if (mbit === 0) {
    await run(["tc", "-n", end.netns, "qdisc", "del", "dev", end.ifname, "root"], { check: false });
    return;
  }
  const bytesPerSec = mbit * 125_000;
  // Burst: ≥ 10 ms of traffic and ≥ a few full frames; queue: ~50 ms at the rate.
  const burst = Math.max(16 * 1024, Math.round(bytesPerSec / 100));
  await run(
    ["tc", "-n", end.netns, "qdisc", "replace", "dev", end.ifname, "root", "tbf"].concat([
      "rate",
      `${mbit}mbit`,
      "burst",
      String(burst),
      "latency",
      "50ms",
    ]),
  );
}

async function clearDelay(plan: Plan, edge: PlanEdge, end: PlanEnd): Promise<void> {
  const s = chainSuffix(end.ifname);
  await deleteChains(plan.prefix, end, [`dly_${s}`, `dlyin_${s}`]);
  const tap = tapName(end.ifname);
  await stopTracked(
    plan.prefix,
    (r) => r.kind === "delay" && r.edge === edge.index && r.argv.includes(tap),
    1000,
  );
}

async function setDelay(plan: Plan, edge: PlanEdge, end: PlanEnd, oneWayMs: number): Promise<void> {
  await clearDelay(plan, edge, end);
  if (oneWayMs === 0) return;
  const tap = tapName(end.ifname);
  const log = join(logDir(plan.prefix), `delay-${tap}.log`);
  const proc = spawnTracked(
    { prefix: plan.prefix, host: end.node, netns: end.netns },
    [process.execPath, FORWARDER, "--tap", tap, "--delay-ms", String(oneWayMs)],
    { logFile: log },
    "delay",
    { edge: edge.index },
  );
  proc.unref();
  let exited = false;
  proc.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let ready = false;
  while (!ready && !exited && Date.now() < deadline) {
    ready = readFileSync(log, "utf8").includes(`ready tap=${tap} pid=${proc.pid} `);
    if (!ready) await Bun.sleep(20);
  }
  if (!ready) {
    await proc.stop(500);
    const tail = readFileSync(log, "utf8").trim().split("\n").slice(-6).join("\n");
    throw new TestnetError("TESTNET_DELAY", `delay forwarder for ${tap} did not start:\n${tail}`);
  }
  const s = chainSuffix(end.ifname);
  const p = plan.prefix;
  await run(["ip", "-n", end.netns, "link", "set", tap, "up"]);
  await nft(
    end,
    `add table netdev ${p}
add chain netdev ${p} dlyin_${s} { type filter hook ingress device "${tap}" priority 0; policy accept; }
flush chain netdev ${p} dlyin_${s}
add rule netdev ${p} dlyin_${s} meta mark set ${DELAY_MARK} fwd to "${end.ifname}"
add chain netdev ${p} dly_${s} { type filter hook egress device "${end.ifname}" priority 0; policy accept; }
flush chain netdev ${p} dly_${s}
add rule netdev ${p} dly_${s} meta mark ${DELAY_MARK} accept
add rule netdev ${p} dly_${s} fwd to "${tap}"
`,
  );
}

async function setUp(plan: Plan, edge: PlanEdge, up: boolean): Promise<void> {
  for (const end of edge.ends) {
    await run(["ip", "-n", end.netns, "link", "set", end.ifname, up ? "up" : "down"]);
  }
  if (!up) return;
  for (const node of plan.nodes) {
    if (node.gateway?.edge !== edge.index) continue;
    await run([
      "ip",
      "-n",
      node.netns,
      "route",
      "replace",
      "default",
      "via",
      node.gateway.via,
      "dev",
      node.gateway.dev,
    ]);
  }
}

function checkNumber(what: string, v: number, min: number, max: number): number {
  if (!Number.isFinite(v) || v < min || v > max)
    throw new MeshUsageError(`${what} must be in [${min}, ${max}]: ${v}`);
  return v;
}

export type ConditionChange =
  | { op: "down" }
  | { op: "up" }
  | { op: "loss"; pct: number }
  | { op: "rate"; mbit: number }
  | { op: "delay"; ms: number }
  | { op: "clear" };

/** Applies one change to both ends of `edge` and records the resulting condition. */
export async function changeCondition(
  plan: Plan,
  edge: PlanEdge,
  change: ConditionChange,
): Promise<LinkCondition> {
  const cond = readCondition(plan.prefix, edge.index);
  switch (change.op) {
    case "down":
    case "up":
      await setUp(plan, edge, change.op === "up");
      if (change.op === "down") cond.down = true;
      else delete cond.down;
      break;
    case "loss": {
      const pct = checkNumber("loss percent", change.pct, 0, 100);
      for (const end of edge.ends) await setLoss(plan.prefix, end, pct);
      if (pct === 0) delete cond.lossPct;
      else cond.lossPct = pct;
      break;
    }
    case "rate": {
      const mbit = checkNumber("rate Mbit/s", change.mbit, 0, 100_000);
      for (const end of edge.ends) await setRate(end, mbit);
      if (mbit === 0) delete cond.rateMbit;
      else cond.rateMbit = mbit;
      break;
    }
    case "delay": {
      const ms = checkNumber("delay ms", change.ms, 0, 10_000);
      try {
        await Promise.all(edge.ends.map((end) => setDelay(plan, edge, end, ms / 2)));
      } catch (err) {
        await Promise.allSettled(edge.ends.map((end) => clearDelay(plan, edge, end)));
        delete cond.delayMs;
        writeCondition(plan.prefix, edge.index, cond);
        throw err;
      }
      if (ms === 0) delete cond.delayMs;
      else cond.delayMs = ms;
      break;
    }
    case "clear":
      for (const end of edge.ends) {
        await setLoss(plan.prefix, end, 0);
        await setRate(end, 0);
        await clearDelay(plan, edge, end);
      }
      await setUp(plan, edge, true);
      writeCondition(plan.prefix, edge.index, {});
      return {};
  }
  writeCondition(plan.prefix, edge.index, cond);
  return cond;
}
