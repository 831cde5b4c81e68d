/**
 * A whole veilnet deployment inside a testnet run, driven through the real executable:
 *
 *   control host:  Master (2 clusters × 2 nats-server, gateways, mTLS, operator mode) + Guardian
 *   other hosts:   one Conflux node each, enrolled with a token, TUN `veil0`
 *
 * Used by scripts/demo.sh and by the end-to-end tests. Every process is started through the
 * Mesh, so `mesh.destroy()` ends them all (by PID) together with the namespaces.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requestLocal } from "../../src/control/local-control.ts";
import { LOCAL_CONTROL_SOCKET } from "../../src/roles/conflux/config.ts";
import type { Mesh } from "../mesh.ts";
import type { MeshProcess } from "../procs.ts";

export interface DemoOptions {
  /** The veilnet command: the compiled binary, or [bun, src/cli.ts]. */
  readonly veilnet: readonly string[];
  /** The host that runs Master and Guardian. */
  readonly controlHost: string;
  /** Hosts that run a Conflux node. */
  readonly nodeHosts: readonly string[];
  readonly realm?: string;
  readonly credentialTtl?: string;
  readonly log?: (line: string) => void;
}

export interface DemoNode {
  readonly host: string;
  readonly stateDir: string;
  proc: MeshProcess;
}

export class DemoMesh {
  readonly nodes = new Map<string, DemoNode>();
  readonly procs: MeshProcess[] = [];

  private constructor(
    readonly mesh: Mesh,
    readonly o: DemoOptions,
    readonly dir: string,
    readonly controlIp: string,
    readonly token: string,
  ) {}

  get guardianState(): string {
    return join(this.dir, "guardian");
  }

  static async start(mesh: Mesh, o: DemoOptions): Promise<DemoMesh> {
    const log = o.log ?? (() => {});
    const dir = mkdtempSync(join(tmpdir(), "veilnet-demo-"));
    const realm = o.realm ?? "demo";
    const controlIp = mesh.addressOf(o.controlHost);
    const run = async (argv: string[]) => {
      const r = await mesh.exec(o.controlHost, [...o.veilnet, ...argv], { timeoutMs: 60_000 });
      if (r.code !== 0)
        throw new Error(`veilnet ${argv.join(" ")} failed (${r.code}): ${r.stderr || r.stdout}`);
      return r.stdout;
    };

    // Master: a 2 × 2 super cluster on the control host.
    const servers = (cluster: string, base: number) =>
      [1, 2].map((i) => ({
        name: `${cluster}${i}`,
        host: controlIp,
        client: base + i,
        cluster: base + 100 + i,
        gateway: base + 200 + i,
        monitor: base + 300 + i,
      }));
    const plan = {
      operator: "veilnet-demo",
      trust: "./trust",
      clusters: [
        { name: "A", servers: servers("A", 14000) },
        { name: "B", servers: servers("B", 15000) },
      ],
    };
    const planPath = join(dir, "plan.json");
    writeFileSync(planPath, JSON.stringify(plan, null, 1));
    log("master: creating trust material and a 2×2 NATS super cluster");
    await run(["--role", "master", "--plan", planPath, "--init"]);
    const demo0: MeshProcess[] = [];
    mkdirSync(join(dir, "logs"), { recursive: true });
    demo0.push(
      mesh.spawn(
        o.controlHost,
        [...o.veilnet, "--role", "master", "--plan", planPath, "--out", join(dir, "nats"), "--run"],
        { logFile: join(dir, "logs", "master.log") },
      ),
    );
    const masters = plan.clusters.flatMap((c) => c.servers.map((s) => `tls://${controlIp}:${s.client}`));
    await waitFor("NATS servers", 30_000, async () => {
      for (const c of plan.clusters)
        for (const s of c.servers) {
          const r = await mesh.exec(o.controlHost, [
            "curl",
            "-sf",
            `http://${controlIp}:${s.monitor}/healthz`,
          ]);
          if (r.code !== 0) return false;
        }
      return true;
    });

    // Guardian, adopting Master's trust directory (one CA, one operator).
    log("guardian: init, run, create realm and enrolment token");
    const g = join(dir, "guardian");
    await run([
      "--role",
      "guardian",
      "init",
      "--state",
      g,
      "--trust",
      join(dir, "trust"),
      "--api-host",
      controlIp,
    ]);
    const ttl = o.credentialTtl ? ["--credential-ttl", o.credentialTtl] : [];
    demo0.push(
      mesh.spawn(
        o.controlHost,
        [
          ...o.veilnet,
          "--role",
          "guardian",
          "run",
          "--state",
          g,
          "--listen",
          `${controlIp}:7443`,
          "--masters",
          masters.join(","),
          ...ttl,
        ],
        { logFile: join(dir, "logs", "guardian.log") },
      ),
    );
    await waitFor("Guardian API", 30_000, async () => {
      const r = await mesh.exec(o.controlHost, ["curl", "-sk", `https://${controlIp}:7443/v1/health`]);
      return r.code === 0 && r.stdout.length > 0;
    });
    await run(["admin", "realm-create", realm, "--state", g]);
    const tokenOut = await run([
      "admin",
      "token-create",
      "--realm",
      realm,
      "--uses",
      String(o.nodeHosts.length + 8),
      "--state",
      g,
      "--json",
    ]);
    const token = (JSON.parse(tokenOut.trim().split("\n").pop() ?? "{}") as { token?: string }).token;
    if (!token) throw new Error(`token-create printed no token: ${tokenOut}`);

    const demo = new DemoMesh(mesh, o, dir, controlIp, token);
    demo.procs.push(...demo0);
    for (const host of o.nodeHosts) demo.startNode(host, realm);
    return demo;
  }

  /** Starts (or restarts) the Conflux node of `host`; its state directory survives restarts. */
  startNode(host: string, realm = this.o.realm ?? "demo"): DemoNode {
    const stateDir = join(this.dir, "nodes", host);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const proc = this.mesh.spawn(
      host,
      [
        ...this.o.veilnet,
        "--role",
        "conflux",
        "--state",
        stateDir,
        "--guardian",
        `https://${this.controlIp}:7443`,
        "--token",
        this.token,
        "--realm",
        realm,
        "--guardian-ca",
        join(this.dir, "trust", "ca.pem"),
        "--tun",
        "veil0",
      ],
      { logFile: join(this.dir, "logs", `${host}.log`) },
    );
    const node = { host, stateDir, proc };
    this.nodes.set(host, node);
    return node;
  }

  /** Asks a node for its status through its control socket (inside its namespace). */
  async status(host: string): Promise<Record<string, unknown> | undefined> {
    const node = this.nodes.get(host);
    if (!node) return undefined;
    const r = await this.mesh.exec(host, [...this.o.veilnet, "status", "--state", node.stateDir, "--json"], {
      timeoutMs: 10_000,
    });
    if (r.code !== 0) return undefined;
    try {
      return JSON.parse(r.stdout) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  /**
   * Asks a node's local control socket directly from this process (a Unix socket in the node's
   * state directory, reachable from any namespace): `status`, `peers` or `counters`. Much cheaper
   * than `status()`, which runs the veilnet CLI in the node's namespace. Undefined when the node
   * is not (yet, or any more) answering.
   */
  async localQuery(host: string, cmd = "status"): Promise<Record<string, unknown> | undefined> {
    const node = this.nodes.get(host);
    if (!node) return undefined;
    try {
      return (await requestLocal(join(node.stateDir, LOCAL_CONTROL_SOCKET), cmd)) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  localStatus(host: string): Promise<Record<string, unknown> | undefined> {
    return this.localQuery(host, "status");
  }

  /** Waits until each of `hosts` has an "up" session with every other one; returns the wait in ms. */
  waitForSessions(hosts: readonly string[], timeoutMs = 60_000): Promise<number> {
    return waitFor(`sessions between ${hosts.join(", ")}`, timeoutMs, async () => {
      const ids = new Map<string, string>();
      for (const h of hosts) {
        const s = await this.localStatus(h);
        if (!s) return false;
        ids.set(h, String(s.node));
      }
      for (const h of hosts) {
        const s = await this.localStatus(h);
        const up = new Set(
          ((s?.peers as { id: string; state: string }[] | undefined) ?? [])
            .filter((p) => p.state === "up")
            .map((p) => p.id),
        );
        for (const other of hosts) if (other !== h && !up.has(ids.get(other)!)) return false;
      }
      return true;
    });
  }

  /** Stops a node's process (SIGTERM, SIGKILL after `graceMs`) and returns its exit code. */
  async stopNode(host: string, graceMs = 5000): Promise<number> {
    const node = this.nodes.get(host);
    if (!node) throw new Error(`no node on ${host}`);
    return node.proc.stop(graceMs);
  }

  async admin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return this.mesh.exec(
      this.o.controlHost,
      [...this.o.veilnet, "admin", ...args, "--state", this.guardianState],
      {
        timeoutMs: 30_000,
      },
    );
  }

  logPath(name: string): string {
    return join(this.dir, "logs", `${name}.log`);
  }

  cleanupFiles(): void {
    // VEILNET_TESTNET_KEEP=1 leaves the logs and state for a post-mortem
    if (process.env.VEILNET_TESTNET_KEEP === "1") {
      console.error(`testnet files kept in ${this.dir}`);
      return;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function waitFor(what: string, timeoutMs: number, ok: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await ok()) return performance.now() - start;
    if (performance.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(200);
  }
}
