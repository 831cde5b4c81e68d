/** Formats simulation results as the table `bun run sim` prints. */
import type { Result } from "./scenario.ts";

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : "n/a");
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(3)}×` : "n/a");
const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} ms` : "n/a");
const num = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

export function formatResult(r: Result): string {
  const sc = r.scenario;
  const rows: string[][] = [
    ["metric", "agent (D-LCB)", "oracle", "static SP", "random", "hop-by-hop Exp3"],
    [
      "delivery ratio",
      pct(r.delivery),
      "—",
      pct(r.staticDelivery),
      pct(r.randomDelivery),
      pct(r.hopDelivery),
    ],
    [
      "mean path latency / oracle",
      ratio(r.stretch),
      "1.000×",
      ratio(r.staticStretch),
      ratio(r.randomStretch),
      ratio(r.hopStretch),
    ],
    ["p95 path latency / oracle", ratio(r.stretchP95), "1.000×", "", "", ""],
    ["recovery after failed hop p50", ms(r.recoveryP50), "0 ms", "never", "never", ms(r.hopRecoveryP50)],
    ["recovery after failed hop p95", ms(r.recoveryP95), "", "", "", ms(r.hopRecoveryP95)],
    ["control msgs / node / s", num(r.ctlPerNodeSec, 3), "—", "0", "0", "same claims"],
    ["  master (summaries)", num(r.masterPerNodeSec, 3), "", "", "", ""],
    ["  probes (link + path)", num(r.probesPerNodeSec, 3), "", "", "", ""],
    ["  builds + teardowns", num(r.buildsPerNodeSec, 3), "", "", "", ""],
    ["cold start → mean ≤ target", ms(r.cold.meanMs), "", "", "", ""],
    ["warm start → mean ≤ target", ms(r.warm?.meanMs ?? Number.NaN), "", "", "", ""],
    ["cold / warm", r.warm ? ratio(r.cold.meanMs / r.warm.meanMs) : "n/a", "", "", "", ""],
    ["cold start → 95% pairs ≤ target", ms(r.cold.pairs95Ms), "", "", "", ""],
    ["warm start → 95% pairs ≤ target", ms(r.warm?.pairs95Ms ?? Number.NaN), "", "", "", ""],
  ];
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => `| ${row.map((x, c) => x.padEnd(w[c]!)).join(" | ")} |`;
  const out = [
    `nodes=${sc.nodes} topology=${sc.topology} links=${r.links} flows=${sc.nodes * sc.flowsPerNode} ` +
      `duration=${sc.durationMs / 1000}s warmup=${sc.warmupMs / 1000}s link_fail=${sc.linkFailShare} ` +
      `churn=${sc.churn} seed=${sc.seed}`,
    line(rows[0]!),
    `|${w.map((x) => "-".repeat(x + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
    `recoveries=${r.recoveries} unrecovered=${r.unrecovered} failovers=${r.failovers} ` +
      `switches/flow/min=${num(r.switchesPerFlowMin, 3)} no_path=${pct(r.noPathShare)}`,
    ...(r.scenario.liars.length > 0
      ? [
          `liars=${r.scenario.liars.join(",")} flows relayed by a liar: peak=${pct(r.liarPeakShare)} ` +
            `end=${pct(r.liarEndShare)} honest_share(static SP)=${pct(r.liarFairShare)}`,
        ]
      : []),
    `events=${r.events} wall=${(r.wallMs / 1000).toFixed(1)}s hash=${r.hash}`,
  ];
  return out.join("\n");
}

/** The last line: key=value pairs (bench convention). */
export function summaryLine(r: Result): string {
  const kv: Record<string, string> = {
    nodes: String(r.scenario.nodes),
    topology: r.scenario.topology,
    seed: String(r.scenario.seed),
    delivery: r.delivery.toFixed(5),
    static_delivery: r.staticDelivery.toFixed(5),
    random_delivery: r.randomDelivery.toFixed(5),
    stretch: r.stretch.toFixed(4),
    static_stretch: r.staticStretch.toFixed(4),
    hop_by_hop_delivery: r.hopDelivery.toFixed(5),
    hop_by_hop_stretch: r.hopStretch.toFixed(4),
    hop_by_hop_recovery_p50_ms: r.hopRecoveryP50.toFixed(0),
    recovery_p50_ms: r.recoveryP50.toFixed(0),
    recovery_p95_ms: r.recoveryP95.toFixed(0),
    ctl_per_node_s: r.ctlPerNodeSec.toFixed(3),
    cold_ms: String(r.cold.meanMs),
    warm_ms: String(r.warm?.meanMs ?? "nan"),
    liar_end_share: r.liarEndShare.toFixed(4),
    wall_s: (r.wallMs / 1000).toFixed(1),
    hash: r.hash,
  };
  return Object.entries(kv)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}
