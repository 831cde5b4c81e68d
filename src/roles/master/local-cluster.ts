/**
 * A super cluster started through the real CLI (`--init`, then `--out … --run`) with real
 * nats-server processes: used by the Master and control-plane tests and by bench/control.ts.
 * By default every server runs on loopback under one supervisor. With `addresses` and `launch`,
 * each server gets its own address and its own supervisor (`--servers NAME`), started wherever
 * `launch` puts it (e.g. in the server's network namespace, testnet/master/). Everything lives in
 * one temporary directory; `stop()` ends the supervisors and, as a backstop, every server PID
 * they recorded.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseCreds } from "@nats-io/jwt";
import {
  loadTrust,
  mintAccountJwt,
  mintUserJwt,
  type NatsKey,
  natsKeyFromSeed,
  newNatsKey,
  type Trust,
} from "../../pki/index.ts";
import { MasterError } from "./errors.ts";
import { allServers, clientUrls, hostPort, loadPlan, type Plan, type PlanServer } from "./plan.ts";
import { serverLayout } from "./server-config.ts";

const CLI = resolve(import.meta.dir, "../../cli.ts");

/** Standard NATS ports, used when every server has an address of its own. */
export const STANDARD_PORTS = Object.freeze({ client: 4222, cluster: 6222, gateway: 7222, monitor: 8222 });

/** A started supervisor process (Bun's Subprocess and testnet's MeshProcess both fit). */
export interface LaunchedProcess {
  readonly pid: number;
  readonly exited: Promise<number>;
  readonly stdout: ReadableStream<Uint8Array> | null;
  kill(signal?: NodeJS.Signals): void;
}

export interface LocalClusterOptions {
  clusters?: number;
  serversPerCluster?: number;
  /**
   * The address of each server, by cluster then server (default: 127.0.0.1 with free ports).
   * Servers with their own addresses listen on STANDARD_PORTS.
   */
  addresses?: readonly (readonly string[])[];
  /**
   * Starts `argv` for `server` (one supervisor per server, `--servers NAME`); default: one
   * supervisor for every server, spawned here.
   */
  launch?: (argv: string[], server: PlanServer) => LaunchedProcess;
  /** GETs `path` from a server's monitoring port; default: fetch from this process. */
  monitor?: (server: PlanServer, path: string) => Promise<string>;
  /** How long start() waits for every server to be routed and gatewayed (default 15 s). */
  readyTimeoutMs?: number;
}

/** Credentials a control-plane client needs (matches ControlCredentials in src/control). */
export interface ClientCredentials {
  readonly jwt: string;
  readonly seed: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export class LocalCluster {
  readonly dir: string;
  readonly plan: Plan;
  readonly trust: Trust;
  /** The supervisors: one for all servers, or one per server (in plan order) with `launch`. */
  readonly procs: LaunchedProcess[] = [];
  readonly log: string[] = [];
  readonly #monitor: (server: PlanServer, path: string) => Promise<string>;
  private constructor(
    dir: string,
    plan: Plan,
    trust: Trust,
    monitor: (server: PlanServer, path: string) => Promise<string>,
  ) {
    this.dir = dir;
    this.plan = plan;
    this.trust = trust;
    this.#monitor = monitor;
  }

  /** The (first) supervisor process. */
  get proc(): LaunchedProcess {
    return this.procs[0]!;
  }

  static async start(o: LocalClusterOptions = {}): Promise<LocalCluster> {
    const dir = mkdtempSync(join(tmpdir(), "veilnet-master-"));
    const nClusters = o.addresses?.length ?? o.clusters ?? 2;
    const perCluster = o.serversPerCluster ?? 2;
    const ports = o.addresses ? [] : await freePorts(nClusters * perCluster * 4);
    const clusters = Array.from({ length: nClusters }, (_, c) => {
      const name = String.fromCharCode(65 + c);
      const hosts = o.addresses?.[c];
      return {
        name,
        servers: Array.from({ length: hosts?.length ?? perCluster }, (_, s) => ({
          name: `${name}${s + 1}`,
          ...(hosts
            ? { host: hosts[s], ...STANDARD_PORTS }
            : {
                host: "127.0.0.1",
                client: ports.pop(),
                cluster: ports.pop(),
                gateway: ports.pop(),
                monitor: ports.pop(),
              }),
        })),
      };
    });
    const planPath = join(dir, "plan.json");
    writeFileSync(
      planPath,
      JSON.stringify({ operator: "veilnet-test", trust: "./trust", clusters }, null, 1),
    );
    const init = Bun.spawnSync([process.execPath, CLI, "--role", "master", "--plan", planPath, "--init"]);
    if (init.exitCode !== 0) throw new MasterError("MASTER_TEST_INIT", init.stderr.toString());
    const plan = loadPlan(planPath);
    const trust = await loadTrust(plan.trust);
    const lc = new LocalCluster(dir, plan, trust, o.monitor ?? fetchMonitor);
    const argv = [
      process.execPath,
      CLI,
      "--role",
      "master",
      "--plan",
      planPath,
      "--out",
      join(dir, "out"),
      "--run",
    ];
    try {
      if (o.launch) {
        for (const s of allServers(plan)) lc.#adopt(o.launch([...argv, "--servers", s.name], s));
      } else {
        lc.#adopt(Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" }) as LaunchedProcess);
      }
      await lc.waitReady(o.readyTimeoutMs ?? 15_000);
    } catch (e) {
      await lc.stop();
      throw e;
    }
    return lc;
  }

  #adopt(proc: LaunchedProcess): void {
    this.procs.push(proc);
    const out = proc.stdout;
    if (!out) return;
    void (async () => {
      for await (const chunk of out) this.log.push(new TextDecoder().decode(chunk));
    })().catch(() => {});
  }

  get servers(): PlanServer[] {
    return allServers(this.plan);
  }

  server(name: string): PlanServer {
    const s = this.servers.find((x) => x.name === name);
    if (!s) throw new MasterError("MASTER_TEST", `no server ${name}`);
    return s;
  }

  url(name: string): string {
    const s = this.server(name);
    return `tls://${hostPort(s.advertise, s.clientPort)}`;
  }

  /** Client URLs with `first` first (the client dials in order, without shuffling). */
  urls(first?: string): string[] {
    const all = clientUrls(this.plan);
    if (!first) return all;
    const f = this.url(first);
    return [f, ...all.filter((u) => u !== f)];
  }

  /** PID of a server's current process, from the supervisor's pid file. */
  pid(name: string): number | undefined {
    const f = serverLayout(join(this.dir, "out"), name).pidFile;
    if (!existsSync(f)) return undefined;
    const n = Number(readFileSync(f, "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  }

  async healthy(name: string): Promise<boolean> {
    try {
      const r = JSON.parse(await this.#monitor(this.server(name), "/healthz")) as { status?: string };
      return r.status === "ok";
    } catch {
      return false;
    }
  }

  /** Waits until every server is healthy, routed within its cluster and gatewayed to the others. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const clusters = this.plan.clusters.length;
    for (const s of this.servers) {
      const peers = (this.plan.clusters.find((c) => c.name === s.cluster)?.servers.length ?? 1) - 1;
      for (;;) {
        if (performance.now() > deadline) {
          throw new MasterError("MASTER_TEST_TIMEOUT", `server ${s.name} not ready\n${this.log.join("")}`);
        }
        try {
          const routez = JSON.parse(await this.#monitor(s, "/routez")) as { num_routes: number };
          const gw = JSON.parse(await this.#monitor(s, "/gatewayz")) as { outbound_gateways?: object };
          if (routez.num_routes >= peers && Object.keys(gw.outbound_gateways ?? {}).length >= clusters - 1)
            break;
        } catch {
          // not listening yet
        }
        await Bun.sleep(50);
      }
    }
  }

  /** A realm account: creates its key, signs its JWT with the operator, pushes it (caller pushes). */
  async newRealm(name: string): Promise<{ account: NatsKey; jwt: string }> {
    const account = newNatsKey("account");
    const jwt = await mintAccountJwt({ name, account: account.publicKey, operator: this.trust.operator });
    return { account, jwt };
  }

  /** User JWT + nkey + mTLS client certificate for `account` (what Guardian issues to a node). */
  async credentials(
    account: NatsKey,
    o: {
      name?: string;
      ttlSeconds?: number;
      permissions?: Parameters<typeof mintUserJwt>[0]["permissions"];
    } = {},
  ): Promise<ClientCredentials> {
    const user = newNatsKey("user");
    const jwt = await mintUserJwt({
      name: o.name ?? "node",
      user: user.publicKey,
      account,
      ttlSeconds: o.ttlSeconds ?? 3600,
      ...(o.permissions ? { permissions: o.permissions } : {}),
    });
    const cert = await this.trust.ca.issueClient({ commonName: o.name ?? "node", validSeconds: 3600 });
    return { jwt, seed: user.seed, certPem: cert.certPem, keyPem: cert.keyPem ?? "" };
  }

  /** Credentials of the bootstrap system user (for pushing account JWTs). */
  async systemCredentials(): Promise<ClientCredentials> {
    const creds = await parseCreds(
      new TextEncoder().encode(readFileSync(this.trust.paths.systemUserCreds, "utf8")),
    );
    natsKeyFromSeed(creds.key, "user");
    const cert = await this.trust.ca.issueClient({ commonName: "system", validSeconds: 3600 });
    return { jwt: creds.jwt, seed: creds.key, certPem: cert.certPem, keyPem: cert.keyPem ?? "" };
  }

  /** SIGTERM to the supervisors (they stop their servers), then SIGKILL stragglers by recorded PID. */
  async stop(): Promise<void> {
    const pids = this.servers.map((s) => this.pid(s.name)).filter((p): p is number => p !== undefined);
    await Promise.all(
      this.procs.map(async (proc) => {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 8_000);
        await proc.exited;
        clearTimeout(timer);
      }),
    );
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function fetchMonitor(server: PlanServer, path: string): Promise<string> {
  const r = await fetch(`http://${hostPort(server.advertise, server.monitorPort)}${path}`);
  if (!r.ok) throw new MasterError("MASTER_TEST", `${server.name}${path}: HTTP ${r.status}`);
  return r.text();
}

/** Distinct free TCP ports on 127.0.0.1 (bound briefly to port 0, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const listeners = Array.from({ length: n }, () =>
    Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }),
  );
  const ports = listeners.map((l) => l.port);
  for (const l of listeners) l.stop(true);
  return ports;
}
