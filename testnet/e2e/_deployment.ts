/**
 * One veilnet deployment in the `nat4` testnet for an end-to-end test file: Master (2×2 NATS super
 * cluster) and Guardian on the public `control` host, a Conflux node (TUN `veil0`, native data
 * plane) on each of h1–h4 behind two NAT routers. Real nats-server, real TUN, real namespaces.
 *
 * Which veilnet runs: `dist/veilnet` when it exists and is newer than every file under src/ (the
 * code under test is then exactly what was compiled), otherwise `bun src/cli.ts` from this checkout
 * — so the tests work whether or not `./compile.sh` ran. `VEILNET_E2E_COMMAND=binary|source`
 * forces one of the two; an absolute path runs that executable.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { DemoMesh, waitFor } from "../demo/demo-mesh.ts";
import { Mesh } from "../mesh.ts";

export const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("testnet e2e SKIPPED: needs root (network namespaces, TUN devices)");

const ROOT = resolve(import.meta.dir, "../..");
export const NODE_HOSTS = ["h1", "h2", "h3", "h4"] as const;
export const CONTROL = "control";

export interface VeilnetCommand {
  readonly argv: readonly string[];
  readonly kind: "binary" | "source";
}

/** The compiled binary if it is newer than the sources, else Bun running src/cli.ts. */
export function veilnetCommand(): VeilnetCommand {
  const binary = join(ROOT, "dist", "veilnet");
  const source: VeilnetCommand = { argv: [process.execPath, join(ROOT, "src", "cli.ts")], kind: "source" };
  const forced = process.env.VEILNET_E2E_COMMAND;
  if (forced === "source") return source;
  if (forced?.startsWith("/")) return { argv: [forced], kind: "binary" };
  let built: number;
  try {
    built = statSync(binary).mtimeMs;
  } catch {
    return source;
  }
  if (forced === "binary" || newestMtime(join(ROOT, "src")) < built)
    return { argv: [binary], kind: "binary" };
  return source;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export interface Deployment {
  readonly mesh: Mesh;
  readonly demo: DemoMesh;
  readonly command: VeilnetCommand;
  /** Overlay IPv4 of each node host. */
  readonly ips: Map<string, string>;
  /** Node id (hex) of each node host. */
  readonly ids: Map<string, string>;
  /** Milliseconds from the first node's spawn until every pair had a session. */
  readonly meshUpMs: number;
}

export interface DeployOptions {
  /** Runs in the fresh namespaces before any veilnet process starts (e.g. nftables counters). */
  readonly beforeStart?: (mesh: Mesh) => Promise<void>;
  readonly log?: (line: string) => void;
}

/** Brings up nat4 + Master + Guardian + 4 nodes and waits until all 6 sessions are up. */
export async function deploy(o: DeployOptions = {}): Promise<Deployment> {
  const command = veilnetCommand();
  const log = o.log ?? ((line: string) => console.log(`[e2e] ${line}`));
  log(`veilnet command: ${command.kind} (${command.argv.join(" ")})`);
  const mesh = await Mesh.up({ topology: "nat4" });
  let demo: DemoMesh | undefined;
  try {
    await o.beforeStart?.(mesh);
    demo = await DemoMesh.start(mesh, {
      veilnet: command.argv,
      controlHost: CONTROL,
      nodeHosts: [...NODE_HOSTS],
      log,
    });
    const t0 = performance.now();
    const ips = new Map<string, string>();
    const ids = new Map<string, string>();
    await waitFor("every node to enrol", 90_000, async () => {
      for (const h of NODE_HOSTS) {
        const s = await demo!.localStatus(h);
        if (!s) return false;
        ips.set(h, String(s.ipv4));
        ids.set(h, String(s.node));
      }
      return true;
    });
    await demo.waitForSessions([...NODE_HOSTS], 60_000);
    const meshUpMs = performance.now() - t0;
    log(`all sessions up ${(meshUpMs / 1000).toFixed(1)} s after the nodes started`);
    return { mesh, demo, command, ips, ids, meshUpMs };
  } catch (err) {
    if (demo) dumpLogs(demo);
    await mesh.destroy();
    demo?.cleanupFiles();
    throw err;
  }
}

export async function destroy(d: Deployment | undefined, failed = false): Promise<void> {
  if (!d) return;
  if (failed) dumpLogs(d.demo);
  await d.mesh.destroy();
  d.demo.cleanupFiles();
}

export function dumpLogs(demo: DemoMesh, lines = 25): void {
  for (const name of ["master", "guardian", ...demo.nodes.keys()]) {
    let text = "";
    try {
      text = readFileSync(demo.logPath(name), "utf8");
    } catch {
      continue;
    }
    console.error(`--- last lines of ${name}.log ---\n${text.split("\n").slice(-lines).join("\n")}`);
  }
}

export interface PingResult {
  readonly ok: boolean;
  readonly sent: number;
  readonly received: number;
  readonly avgMs: number | undefined;
}

/** `ping -c count` over the overlay from `from` to `to`. */
export async function ping(
  mesh: Mesh,
  from: string,
  to: string,
  o: { count?: number; intervalS?: number; waitS?: number; source?: string } = {},
): Promise<PingResult> {
  const argv = ["ping", "-n", "-c", String(o.count ?? 3), "-i", String(o.intervalS ?? 0.2)];
  argv.push("-W", String(o.waitS ?? 2));
  if (o.source) argv.push("-I", o.source);
  const r = await mesh.exec(from, [...argv, to], { timeoutMs: 30_000 });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const avg = /= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1];
  const sent = Number(m?.[1] ?? 0);
  const received = Number(m?.[2] ?? 0);
  return { ok: r.code === 0 && received > 0, sent, received, avgMs: avg ? Number(avg) : undefined };
}

/** VmRSS of a process in KiB (the harness spawns through `ip netns exec`, which keeps the PID). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export interface PeerView {
  id: string;
  ipv4: string;
  state: string;
  endpoint: string | null;
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  blocked: string | null;
}

export function peersOf(status: Record<string, unknown> | undefined): PeerView[] {
  return ((status?.peers as PeerView[] | undefined) ?? []).slice();
}

export function dataplaneOf(status: Record<string, unknown> | undefined): Record<string, number> {
  return (status?.dataplane as Record<string, number> | undefined) ?? {};
}
