/**
 * `testnet/mesh.sh`: the harness from the shell.
 *
 *   up --topology NAME|FILE [--prefix P] [--nodes N] [--seed S]   build; prints status, then prefix=P
 *   exec [--prefix P] HOST CMD...        run CMD in HOST (stdin/stdout/exit code pass through)
 *   each [--prefix P] [--hosts a,b] [--routers] -- CMD...
 *                                        start CMD in the background in every host ({host} is
 *                                        replaced); logs in the run's logs/; stopped by `down`
 *   status [--prefix P] [--json]         hosts, addresses, links, conditions, processes
 *   link [--prefix P] A B down|up|clear|loss PCT|rate MBIT|delay MS
 *   down [--prefix P] | down --stale     remove the run (or every run whose owner died)
 *   list                                 runs on this machine
 *
 * Without --prefix, $VEILNET_TESTNET_PREFIX is used, else the only run there is.
 */
import { join } from "node:path";
import { teardownRun } from "./build.ts";
import { type ConditionChange, changeCondition } from "./conditions.ts";
import { MeshUsageError, StateError, TestnetError } from "./errors.ts";
import { collectStaleRuns, Mesh } from "./mesh.ts";
import { checkPrefix } from "./names.ts";
import { signalGroup, spawnTracked } from "./procs.ts";
import { isAlive, listRuns, logDir, readState, requireState } from "./state.ts";
import { statusJson, statusText } from "./status.ts";

const USAGE = `usage: mesh.sh up --topology pair|line5|ring6|nat4|random:N|FILE [--prefix P] [--nodes N] [--seed S]
       mesh.sh exec [--prefix P] HOST CMD...
       mesh.sh each [--prefix P] [--hosts a,b] [--routers] -- CMD...   ({host} is replaced)
       mesh.sh status [--prefix P] [--json]
       mesh.sh link [--prefix P] A B down|up|clear|loss PCT|rate MBIT|delay MS
       mesh.sh down [--prefix P] | down --stale
       mesh.sh list`;

interface Parsed {
  flags: Map<string, string | true>;
  rest: string[];
}

/** Parses leading `--flag [value]` options; stops at `--` or the first positional when `stopEarly`. */
function parse(args: string[], valued: string[], stopEarly: boolean): Parsed {
  const flags = new Map<string, string | true>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      rest.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const [name, inline] = a.slice(2).split("=", 2) as [string, string | undefined];
      if (valued.includes(name)) {
        const v = inline ?? args[++i];
        if (v === undefined) throw new MeshUsageError(`--${name} needs a value`);
        flags.set(name, v);
      } else flags.set(name, true);
      continue;
    }
    if (stopEarly) {
      rest.push(...args.slice(i));
      break;
    }
    rest.push(a);
  }
  return { flags, rest };
}

function flag(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

function intFlag(p: Parsed, name: string): number | undefined {
  const v = flag(p, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new MeshUsageError(`--${name} must be a non-negative integer: ${v}`);
  return Number(v);
}

function resolvePrefix(p: Parsed): string {
  const given = flag(p, "prefix") ?? process.env.VEILNET_TESTNET_PREFIX;
  if (given) return checkPrefix(given);
  const runs = listRuns();
  if (runs.length === 1) return runs[0]!;
  throw new StateError(
    runs.length === 0 ? "no testnet run found" : `several runs (${runs.join(", ")}): pass --prefix`,
  );
}

function num(v: string | undefined, what: string): number {
  const n = Number(v);
  if (v === undefined || v.trim() === "" || !Number.isFinite(n))
    throw new MeshUsageError(`${what} must be a number`);
  return n;
}

async function cmdUp(args: string[]): Promise<number> {
  const p = parse(args, ["topology", "prefix", "nodes", "seed"], false);
  let topology = flag(p, "topology");
  if (!topology) throw new MeshUsageError("up needs --topology");
  const positionalN = p.rest[0];
  if (topology === "random" && positionalN !== undefined) topology = `random:${num(positionalN, "random N")}`;
  const prefix = flag(p, "prefix");
  const nodes = intFlag(p, "nodes");
  const seed = intFlag(p, "seed");
  const mesh = await Mesh.up({
    topology,
    persistent: true,
    ...(prefix ? { prefix } : {}),
    ...(nodes !== undefined ? { nodes } : {}),
    ...(seed !== undefined ? { seed } : {}),
  });
  console.log(statusText(requireState(mesh.prefix)));
  console.log(`prefix=${mesh.prefix}`);
  return 0;
}

async function cmdExec(args: string[]): Promise<number> {
  const p = parse(args, ["prefix"], true);
  const [host, ...argv] = p.rest;
  if (!host || argv.length === 0) throw new MeshUsageError("exec needs HOST and CMD");
  const prefix = resolvePrefix(p);
  const node = requireState(prefix).plan.nodes.find((n) => n.name === host);
  if (!node) throw new MeshUsageError(`unknown node '${host}'`);
  const child = spawnTracked(
    { prefix, host, netns: node.netns },
    argv,
    { stdin: "inherit", stdout: "inherit", stderr: "inherit" },
    "exec",
  );
  const forward = (sig: NodeJS.Signals) => () => signalGroup(child.pid, sig);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const) process.on(sig, forward(sig));
  return await child.exited;
}

function cmdEach(args: string[]): number {
  const p = parse(args, ["prefix", "hosts"], false);
  if (p.rest.length === 0) throw new MeshUsageError("each needs a command after --");
  const prefix = resolvePrefix(p);
  const mesh = Mesh.attach(prefix);
  const hosts =
    flag(p, "hosts")?.split(",") ??
    Object.values(mesh.hosts)
      .filter((h) => h.kind === "host" || p.flags.has("routers"))
      .map((h) => h.name);
  for (const h of hosts) {
    const log = join(logDir(prefix), `${h}.log`);
    const proc = mesh.spawn(
      h,
      p.rest.map((a) => a.replaceAll("{host}", h)),
      { logFile: log },
    );
    proc.unref();
    console.log(`${h}\tpid=${proc.pid}\tlog=${log}`);
  }
  return 0;
}

function cmdStatus(args: string[]): number {
  const p = parse(args, ["prefix"], false);
  const state = requireState(resolvePrefix(p));
  console.log(p.flags.has("json") ? JSON.stringify(statusJson(state), null, 2) : statusText(state));
  return 0;
}

async function cmdLink(args: string[]): Promise<number> {
  const p = parse(args, ["prefix"], false);
  const [a, b, op, value] = p.rest;
  if (!a || !b || !op) throw new MeshUsageError("link needs A B OP [VALUE]");
  const mesh = Mesh.attach(resolvePrefix(p));
  const link = mesh.link(a, b);
  let change: ConditionChange;
  switch (op) {
    case "down":
    case "up":
    case "clear":
      change = { op };
      break;
    case "loss":
      change = { op, pct: num(value, "loss PCT") };
      break;
    case "rate":
      change = { op, mbit: num(value, "rate MBIT") };
      break;
    case "delay":
      change = { op, ms: num(value, "delay MS") };
      break;
    default:
      throw new MeshUsageError(`unknown link operation '${op}'`);
  }
  const cond = await changeCondition(mesh.plan, link.edge, change);
  console.log(`${a}–${b}: ${JSON.stringify(cond)}`);
  return 0;
}

async function cmdDown(args: string[]): Promise<number> {
  const p = parse(args, ["prefix"], false);
  if (p.flags.has("stale")) {
    const removed = await collectStaleRuns();
    console.log(removed.length > 0 ? `removed ${removed.join(", ")}` : "no stale runs");
    return 0;
  }
  const prefix = resolvePrefix(p);
  const state = readState(prefix);
  if (state?.owner && isAlive(state.owner) && !p.flags.has("force")) {
    throw new StateError(
      `run ${prefix} belongs to live process ${state.owner.pid} (use --force to remove anyway)`,
    );
  }
  const report = await teardownRun(prefix, state?.plan);
  console.log(`down ${prefix}: ${report.namespaces.length} namespaces, ${report.stopped} processes stopped`);
  for (const f of report.foreign)
    console.error(`warning: pid ${f.pid} in ${f.netns} was not started by the harness; left running`);
  return 0;
}

function cmdList(): number {
  for (const prefix of listRuns()) {
    const s = readState(prefix);
    console.log(
      s ? `${prefix}\t${s.plan.topology}\t${s.phase}\t${s.createdAt}` : `${prefix}\t(damaged state)`,
    );
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case "up":
      return cmdUp(args);
    case "exec":
      return cmdExec(args);
    case "each":
      return cmdEach(args);
    case "status":
      return cmdStatus(args);
    case "link":
      return cmdLink(args);
    case "down":
      return cmdDown(args);
    case "list":
      return cmdList();
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      throw new MeshUsageError(`unknown command '${cmd}'`);
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      if (err instanceof TestnetError) {
        console.error(`mesh: ${err.message}`);
        process.exit(err instanceof MeshUsageError ? 2 : 1);
      }
      console.error(err);
      process.exit(1);
    },
  );
}

export { main };
