/**
 * `bun run sim -- --nodes N --topology waxman|geometric|scalefree --churn F --seed S [options]`
 * Runs the path agent in the discrete-event simulator and prints the comparison table; the last line
 * is a key=value summary.
 */
import { parseArgs } from "node:util";
import type { AgentParams } from "../constants.ts";
import { formatResult, summaryLine } from "./report.ts";
import { DEFAULT_SCENARIO, runScenario, type Scenario } from "./scenario.ts";
import type { TopologyKind } from "./topology.ts";

const ABLATIONS: Record<string, Partial<AgentParams>> = {
  none: {},
  nostandby: { standby: false },
  nohysteresis: { hysteresis: false },
  trustgossip: { measure: false },
};

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: "string" },
      topology: { type: "string" },
      churn: { type: "string" },
      seed: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      "link-fail": { type: "string" },
      flows: { type: "string" },
      degree: { type: "string" },
      ablation: { type: "string" },
      liars: { type: "string" },
      "liar-mode": { type: "string" },
      "no-warm": { type: "boolean" },
      progress: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "usage: bun run sim -- [--nodes N] [--topology waxman|geometric|scalefree] [--churn F] [--seed S]\n" +
        "       [--duration SEC] [--warmup SEC] [--link-fail F] [--flows K] [--degree D]\n" +
        "       [--ablation none|nostandby|nohysteresis|trustgossip] [--liars K] [--liar-mode smart|naive] [--no-warm] [--progress]\n" +
        "--liars K: the K best-connected nodes lie (smart: 0.3× the truth beyond 2 hops; naive: 1 ms to all), drop 30%, add 40 ms",
    );
    return 0;
  }
  const num = (v: string | undefined, name: string, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!Number.isFinite(x) || x < min || x > max)
      throw new Error(`--${name} must be a number in [${min}, ${max}]`);
    return x;
  };
  const topology = (values.topology ?? DEFAULT_SCENARIO.topology) as TopologyKind;
  if (!["waxman", "geometric", "scalefree"].includes(topology))
    throw new Error("--topology: waxman|geometric|scalefree");
  const ablation = values.ablation ?? "none";
  const params = ABLATIONS[ablation];
  if (!params) throw new Error(`--ablation: ${Object.keys(ABLATIONS).join("|")}`);
  const sc: Scenario = {
    ...DEFAULT_SCENARIO,
    topology,
    nodes: num(values.nodes, "nodes", 10, 100_000) ?? DEFAULT_SCENARIO.nodes,
    churn: num(values.churn, "churn", 0, 1) ?? DEFAULT_SCENARIO.churn,
    seed: num(values.seed, "seed", 0, 2 ** 32 - 1) ?? DEFAULT_SCENARIO.seed,
    linkFailShare: num(values["link-fail"], "link-fail", 0, 1) ?? DEFAULT_SCENARIO.linkFailShare,
    flowsPerNode: num(values.flows, "flows", 1, 16) ?? DEFAULT_SCENARIO.flowsPerNode,
    meanDegree: num(values.degree, "degree", 2, 64) ?? DEFAULT_SCENARIO.meanDegree,
    params,
    liarHubs: num(values.liars, "liars", 0, 1000) ?? 0,
    liarMode: values["liar-mode"] === "naive" ? "naive" : "smart",
    warmStart: !values["no-warm"],
  };
  if (sc.nodes >= 2_000) {
    // the oracle is a Dijkstra per sampled source per topology change: sample fewer, less often;
    // the baselines walk every 16th packet instead of every 4th; the warm restart runs 30 s
    sc.sampleFlows = 150;
    sc.sampleMs = 5_000;
    sc.baselineEvery = 16;
    sc.warmWindowMs = 30_000;
  }
  const dur = num(values.duration, "duration", 10, 86_400);
  if (dur !== undefined) sc.durationMs = dur * 1000;
  const warm = num(values.warmup, "warmup", 0, 86_400);
  if (warm !== undefined) sc.warmupMs = warm * 1000;
  if (sc.warmupMs >= sc.durationMs) throw new Error("--warmup must be shorter than --duration");
  sc.convergeWindowMs = Math.min(sc.convergeWindowMs, sc.durationMs);
  const r = runScenario(
    sc,
    values.progress
      ? (t, wall) =>
          process.stderr.write(
            `sim ${t / 1000}s of ${sc.durationMs / 1000}s, wall ${(wall / 1000).toFixed(0)}s\n`,
          )
      : undefined,
  );
  console.log(`ablation=${ablation}`);
  console.log(formatResult(r));
  console.log(summaryLine(r));
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  console.error(`sim: ${(err as Error).message}`);
  process.exitCode = 2;
}
