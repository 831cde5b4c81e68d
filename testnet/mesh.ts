/**
 * The harness's TypeScript API.
 *
 * ```ts
 * import { Mesh } from "../testnet/mesh.ts";
 * await using net = await Mesh.up({ topology: "line5" });
 * const r = await net.exec("h1", ["ping", "-c1", net.addressOf("h2", "h1")]);
 * const srv = net.spawn("h5", ["iperf3", "-s"]);          // stopped by destroy()
 * await net.link("h1", "h2").delay(50);                    // +50 ms round trip
 * await net.destroy();                                     // or let `await using` do it
 * ```
 * A mesh made by `Mesh.up` belongs to this process: it is torn down by `destroy()`, on
 * SIGINT/SIGTERM/SIGHUP, at exit, and by the next `Mesh.up` anywhere if this process died
 * without it. A failure or a signal during `up` removes whatever was built so far.
 * `Mesh.attach(prefix)` joins a run made by `mesh.sh up` (which persists until `mesh.sh down`).
 */

import { buildPlan, type TeardownReport, teardownRun } from "./build.ts";
import { type ConditionChange, changeCondition } from "./conditions.ts";
import { MeshUsageError, StateError } from "./errors.ts";
import { checkPrefix, randomPrefix } from "./names.ts";
import { makePlan, type Plan, type PlanEdge, sharedEdges } from "./plan.ts";
import { killTrackedSync, type MeshProcess, type SpawnOptions, spawnTracked } from "./procs.ts";
import { listNetnsSync, runSync } from "./run.ts";
import {
  isAlive,
  isStale,
  type LinkCondition,
  listRuns,
  type RunState,
  readCondition,
  readState,
  removeRunDir,
  requireState,
  selfId,
  writeState,
} from "./state.ts";
import { checkTopology, loadTopology, type Topology, type TopologySpec } from "./topology.ts";

export interface MeshUpOptions {
  /** `pair`, `line5`, `ring6`, `nat4`, `random:N` (or `random` + `nodes`), a JSON file path, or a spec. */
  topology: string | TopologySpec;
  /** ≤ 8 chars [a-z0-9], starting with a letter; default `vn` + 4 random hex digits. */
  prefix?: string;
  /** For `random`: the number of hosts (default 6). */
  nodes?: number;
  /** For `random`: the PRNG seed (default 1). */
  seed?: number;
  /** Keep the run after this process exits (what `mesh.sh up` does). Default false. */
  persistent?: boolean;
}

export interface MeshInterface {
  name: string;
  address: string;
  prefixLen: number;
  /** The node at the far end (a host, router or segment name). */
  peer: string;
}

export interface MeshHost {
  name: string;
  kind: "host" | "router";
  netns: string;
  /** Underlay IPv4 addresses, in interface order. */
  addresses: string[];
  interfaces: MeshInterface[];
}

export interface ExecOptions {
  stdin?: string | Uint8Array;
  env?: Record<string, string>;
  /** Kill the command's process group after this long (result `timedOut: true`, code 137). */
  timeoutMs?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Conditions on one link (both directions). Every method resolves when the kernel is configured. */
export interface MeshLink {
  readonly edge: PlanEdge;
  down(): Promise<void>;
  up(): Promise<void>;
  /** Drop each frame in each direction with probability pct/100. */
  loss(pct: number): Promise<void>;
  /** Limit each direction to `mbit` Mbit/s (tbf). */
  rate(mbit: number): Promise<void>;
  /** Add `ms` of round-trip time (ms/2 each way). 0 removes it. */
  delay(ms: number): Promise<void>;
  clear(): Promise<void>;
  condition(): LinkCondition;
}

export type { MeshProcess, SpawnOptions, StdioOption } from "./procs.ts";
export type { LinkCondition } from "./state.ts";
export type { TopologySpec } from "./topology.ts";

const live = new Set<Mesh>();
let handlersInstalled = false;

export class Mesh implements AsyncDisposable {
  readonly prefix: string;
  readonly plan: Plan;
  /** Hosts and routers by name (segments are internal and not listed). */
  readonly hosts: Readonly<Record<string, MeshHost>>;
  /** True when this process owns the run (made by `up` without `persistent`). */
  readonly owned: boolean;
  readonly #procs = new Set<MeshProcess>();
  #destroyed = false;

  private constructor(plan: Plan, owned: boolean) {
    this.prefix = plan.prefix;
    this.plan = plan;
    this.owned = owned;
    this.hosts = Object.freeze(describeHosts(plan));
  }

  /** Builds a topology. Cleans stale runs first; on any failure removes what it made. */
  static async up(opts: MeshUpOptions): Promise<Mesh> {
    const prefix = checkPrefix(opts.prefix ?? (await unusedPrefix()));
    const topo: Topology =
      typeof opts.topology === "string"
        ? loadTopology(opts.topology, { nodes: opts.nodes, seed: opts.seed })
        : checkTopology("inline", opts.topology);
    const plan = makePlan(topo, prefix);
    await collectStaleRuns();
    const previous = readState(prefix);
    if (previous && !isStale(previous)) {
      const holder = previous.phase === "building" ? previous.builder : previous.owner;
      if (holder && isAlive(holder)) {
        throw new StateError(`prefix '${prefix}' is in use by live process ${holder.pid}`);
      }
    }
    await teardownRun(prefix, previous?.plan);
    const me = selfId();
    const state: RunState = {
      version: 1,
      prefix,
      phase: "building",
      createdAt: new Date().toISOString(),
      builder: me,
      owner: opts.persistent ? null : me,
      plan,
    };
    writeState(state);
    const mesh = new Mesh(plan, !opts.persistent);
    mesh.#register();
    try {
      await buildPlan(plan);
    } catch (err) {
      await mesh.destroy();
      throw err;
    }
    writeState({ ...state, phase: "up" });
    // A persistent run outlives this process: from here on only `down` removes it.
    if (opts.persistent) live.delete(mesh);
    return mesh;
  }

  /** Joins an existing run (e.g. one made by `mesh.sh up`); `destroy()` then tears it down too. */
  static attach(prefix: string): Mesh {
    return new Mesh(requireState(checkPrefix(prefix)).plan, false);
  }

  /** Runs `argv` in `host`'s namespace and collects its output. */
  async exec(host: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const stdin = opts.stdin;
    const p = this.spawn(host, argv, {
      stdin: stdin === undefined ? "ignore" : "pipe",
      ...(opts.env ? { env: opts.env } : {}),
    });
    if (stdin !== undefined && p.stdin) {
      p.stdin.write(stdin);
      await p.stdin.end();
    }
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            p.kill("SIGKILL");
          }, opts.timeoutMs);
    try {
      const [stdout, stderr, code] = await Promise.all([
        p.stdout ? new Response(p.stdout).text() : "",
        p.stderr ? new Response(p.stderr).text() : "",
        p.exited,
      ]);
      return { code, stdout, stderr, timedOut };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /**
   * Starts `argv` in `host`'s namespace as a tracked background process (new session; its
   * whole process group is stopped by `destroy()`/`down`). stdout/stderr default to "pipe".
   */
  spawn(host: string, argv: readonly string[], opts: SpawnOptions = {}): MeshProcess {
    const node = this.#node(host);
    const p = spawnTracked({ prefix: this.prefix, host, netns: node.netns }, argv, opts, "spawn");
    this.#procs.add(p);
    p.exited.then(() => this.#procs.delete(p));
    return p;
  }

  /** Starts one process per host (default: every `host`, not routers); `{host}` in argv is replaced. */
  spawnEach(argv: readonly string[], opts: SpawnOptions & { hosts?: string[] } = {}): MeshProcess[] {
    const names =
      opts.hosts ??
      Object.values(this.hosts)
        .filter((h) => h.kind === "host")
        .map((h) => h.name);
    return names.map((h) =>
      this.spawn(
        h,
        argv.map((a) => a.replaceAll("{host}", h)),
        opts,
      ),
    );
  }

  /**
   * The address of `host`: with `peer`, its address on a link or segment it shares with `peer`
   * (what `peer` dials to reach it directly); without, its first address.
   */
  addressOf(host: string, peer?: string): string {
    const h = this.hosts[host];
    if (!h) throw new MeshUsageError(`unknown host '${host}' (hosts: ${Object.keys(this.hosts).join(", ")})`);
    if (peer === undefined) {
      const first = h.addresses[0];
      if (!first) throw new MeshUsageError(`${host} has no address`);
      return first;
    }
    this.#node(peer);
    const shared = sharedEdges(this.plan, host, peer)[0];
    if (!shared?.local.address) throw new MeshUsageError(`${host} and ${peer} share no link or segment`);
    return shared.local.address;
  }

  /** The link between two nodes, or between a node and a segment it belongs to. */
  link(a: string, b: string): MeshLink {
    const edge = this.#edge(a, b);
    const apply = async (c: ConditionChange) => {
      await changeCondition(this.plan, edge, c);
    };
    return {
      edge,
      down: () => apply({ op: "down" }),
      up: () => apply({ op: "up" }),
      loss: (pct) => apply({ op: "loss", pct }),
      rate: (mbit) => apply({ op: "rate", mbit }),
      delay: (ms) => apply({ op: "delay", ms }),
      clear: () => apply({ op: "clear" }),
      condition: () => readCondition(this.prefix, edge.index),
    };
  }

  /** Stops every process the run started and removes every namespace, link and rule. Idempotent. */
  async destroy(): Promise<TeardownReport> {
    if (this.#destroyed) return { namespaces: [], stopped: 0, foreign: [] };
    this.#destroyed = true;
    live.delete(this);
    return teardownRun(this.prefix, this.plan);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  #node(name: string) {
    const n = this.plan.nodes.find((x) => x.name === name);
    if (!n)
      throw new MeshUsageError(
        `unknown node '${name}' (nodes: ${this.plan.nodes.map((x) => x.name).join(", ")})`,
      );
    return n;
  }

  #edge(a: string, b: string): PlanEdge {
    this.#node(a);
    this.#node(b);
    const direct = this.plan.edges.find(
      (e) => (e.ends[0].node === a && e.ends[1].node === b) || (e.ends[0].node === b && e.ends[1].node === a),
    );
    if (direct) return direct;
    const via = sharedEdges(this.plan, a, b)[0];
    const hint = via
      ? ` (they share segment ${via.edge.ends[1].node}: use link("${a}", "${via.edge.ends[1].node}"))`
      : "";
    throw new MeshUsageError(`no link between ${a} and ${b}${hint}`);
  }

  #register(): void {
    live.add(this);
    if (handlersInstalled) return;
    handlersInstalled = true;
    process.on("exit", () => {
      for (const m of live) teardownSync(m.prefix, m.plan);
    });
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      process.once(sig, async () => {
        await Promise.allSettled([...live].map((m) => m.destroy()));
        process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
      });
    }
  }
}

/** A random prefix that no run and no namespace on this machine uses. */
async function unusedPrefix(): Promise<string> {
  const taken = new Set([...listRuns(), ...listNetnsSync().map((n) => n.split("-")[0] ?? "")]);
  for (;;) {
    const p = randomPrefix();
    if (!taken.has(p)) return p;
  }
}

/** Last-resort synchronous teardown for the `exit` event. */
function teardownSync(prefix: string, plan: Plan): void {
  killTrackedSync(prefix);
  const names = new Set(plan.nodes.map((n) => n.netns));
  for (const n of listNetnsSync()) if (n.startsWith(`${prefix}-`)) names.add(n);
  runSync(["ip", "-force", "-batch", "-"], {
    stdin: [...names].map((n) => `netns del ${n}\n`).join(""),
    check: false,
  });
  removeRunDir(prefix);
}

/** Tears down every run whose owner (or builder, while building) is dead. */
export async function collectStaleRuns(): Promise<string[]> {
  const removed: string[] = [];
  for (const prefix of listRuns()) {
    const s = readState(prefix);
    if (s && isStale(s)) {
      await teardownRun(prefix, s.plan);
      removed.push(prefix);
    }
  }
  return removed;
}

function describeHosts(plan: Plan): Record<string, MeshHost> {
  const out: Record<string, MeshHost> = {};
  for (const n of plan.nodes) {
    if (n.kind === "segment") continue;
    const interfaces: MeshInterface[] = [];
    for (const e of plan.edges) {
      e.ends.forEach((end, i) => {
        if (end.node !== n.name || !end.address || end.prefixLen === undefined) return;
        interfaces.push({
          name: end.ifname,
          address: end.address,
          prefixLen: end.prefixLen,
          peer: e.ends[1 - i]!.node,
        });
      });
    }
    out[n.name] = {
      name: n.name,
      kind: n.kind,
      netns: n.netns,
      addresses: interfaces.map((i) => i.address),
      interfaces,
    };
  }
  return out;
}
