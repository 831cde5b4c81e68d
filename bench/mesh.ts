/**
 * Real veilnet nodes, end to end: Master + Guardian on a control host, two Conflux nodes (from
 * dist/veilnet) on one segment. Measures what an operator sees: time from node start to the first
 * overlay ping reply, idle RTT, iperf3 TCP through the overlay (1 and 4 streams) next to the raw
 * underlay in the same namespaces, and the RSS of each daemon. Root only.
 * The last line is `key=value` pairs. Env: DURATION (iperf3 seconds, default 10), VEILNET_BINARY
 * (another build to measure, default dist/veilnet).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { DemoMesh, waitFor } from "../testnet/demo/demo-mesh.ts";
import { Mesh } from "../testnet/mesh.ts";

const binary = process.env.VEILNET_BINARY ?? resolve(import.meta.dir, "../dist/veilnet");
const DURATION = Number(process.env.DURATION ?? 10);
const log = (line: string) => console.error(`# ${line}`);

async function iperf(
  mesh: Mesh,
  client: string,
  server: string,
  address: string,
  streams: number,
): Promise<number> {
  const srv = mesh.spawn(server, ["iperf3", "-s", "-1", "-B", address], {
    stdout: "ignore",
    stderr: "ignore",
  });
  await Bun.sleep(500);
  const r = await mesh.exec(
    client,
    ["iperf3", "-c", address, "-t", String(DURATION), "-P", String(streams), "-J"],
    {
      timeoutMs: (DURATION + 20) * 1000,
    },
  );
  await srv.stop();
  if (r.code !== 0) return 0;
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return Math.round(j.end.sum_received.bits_per_second / 1e6);
}

async function rttMs(mesh: Mesh, from: string, to: string): Promise<number> {
  const r = await mesh.exec(from, ["ping", "-c", "20", "-i", "0.05", "-q", to]);
  return Number(/= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1] ?? Number.NaN);
}

/** Resident memory of `pid` in MB: now, peak (VmHWM), anonymous (heaps), file-backed (the executable's pages). */
function rssMb(pid: number, kind: "VmRSS" | "VmHWM" | "RssAnon" | "RssFile" = "VmRSS"): number {
  const status = Bun.spawnSync(["cat", `/proc/${pid}/status`]).stdout.toString();
  return Math.round(Number(new RegExp(`${kind}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024);
}

async function main(): Promise<void> {
  if (!existsSync(binary)) throw new Error("run ./compile.sh first");
  const mesh = await Mesh.up({
    topology: {
      hosts: ["control", "h1", "h2"],
      segments: [{ name: "lan", members: ["control", "h1", "h2"] }],
    },
  });
  let demo: DemoMesh | undefined;
  try {
    demo = await DemoMesh.start(mesh, { veilnet: [binary], controlHost: "control", nodeHosts: [], log });
    const t0 = performance.now();
    demo.startNode("h1");
    demo.startNode("h2");
    let ip2 = "";
    await waitFor("h2 to enrol", 60_000, async () => {
      ip2 = String((await demo!.status("h2"))?.ipv4 ?? "");
      return ip2.length > 0;
    });
    await waitFor("the first overlay ping h1 → h2", 60_000, async () => {
      const r = await mesh.exec("h1", ["ping", "-c", "1", "-W", "1", ip2]);
      return r.code === 0;
    });
    const firstPingMs = Math.round(performance.now() - t0);
    const under2 = mesh.addressOf("h2");
    const result: Record<string, number> = {
      start_to_first_ping_ms: firstPingMs,
      veilnet_rtt_ms: await rttMs(mesh, "h1", ip2),
      veth_rtt_ms: await rttMs(mesh, "h1", under2),
      veilnet_mbps: await iperf(mesh, "h1", "h2", ip2, 1),
      veilnet_p4_mbps: await iperf(mesh, "h1", "h2", ip2, 4),
      veth_mbps: await iperf(mesh, "h1", "h2", under2, 1),
    };
    const pids = [demo.nodes.get("h1")!.proc.pid, demo.nodes.get("h2")!.proc.pid];
    result.veilnet_rss_mb_max = Math.max(...pids.map((p) => rssMb(p)));
    result.veilnet_rss_peak_mb_max = Math.max(...pids.map((p) => rssMb(p, "VmHWM")));
    result.veilnet_rss_anon_mb_max = Math.max(...pids.map((p) => rssMb(p, "RssAnon")));
    result.veilnet_rss_file_mb_max = Math.max(...pids.map((p) => rssMb(p, "RssFile")));
    result.veilnet_vs_veth =
      Math.round((result.veilnet_mbps! / Math.max(1, result.veth_mbps!)) * 1000) / 1000;
    console.log(
      Object.entries(result)
        .map(([k, v]) => `${k}=${v}`)
        .join(" "),
    );
  } finally {
    await mesh.destroy();
    demo?.cleanupFiles();
  }
}

main().catch((e) => {
  console.error(`bench/mesh: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
