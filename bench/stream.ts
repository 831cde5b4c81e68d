/**
 * Embedded-mode stream benchmark, next to kernel TCP over the TUN overlay in the same run and the
 * same namespaces (needs root for the namespaces; the embedded node itself runs as nobody).
 *
 *   control: Master + Guardian     t1, t2: TUN-mode nodes     e1: `veilnet proxy` (embedded)
 *
 *   tun_tcp     t2 → t1   kernel TCP over both nodes' native data planes (veil0)
 *   stream      e1 → t1   a local socket into the embedded node's proxy, then userspace TCP over
 *                          the embedded plane to t1's kernel (the must-show path)
 *
 * Throughput: BYTES (default 64 MiB) to a sink that answers with its SHA-256 (checked). Latency:
 * N (default 200) ping-pongs of 64 bytes on one connection, median and p90.
 * Optional LOSS=<percent> puts loss on both paths' links for the whole run.
 * Last line: key=value pairs.
 */

import { join } from "node:path";
import {
  asNobody,
  BUN,
  deployEmbedded,
  EMBEDDED_HOST,
  procInfo,
  readText,
  TOOLS,
} from "../src/roles/conflux/embedded/testing/embedded-deployment.ts";
import { waitFor } from "../testnet/demo/demo-mesh.ts";

const BYTES = Number(process.env.BYTES ?? 64 * 1024 * 1024);
const N = Number(process.env.N ?? 200);
const LOSS = Number(process.env.LOSS ?? 0);
const log = (line: string) => console.log(`[bench stream] ${line}`);

if (process.getuid?.() !== 0) {
  console.error("bench/stream.ts needs root (network namespaces)");
  process.exit(2);
}

const d = await deployEmbedded({
  tunHosts: ["t1", "t2"],
  proxyArgs: (ips) => [`18081=${ips.get("t1")}:9100`, `18082=${ips.get("t1")}:7007`],
});
let failed = false;
try {
  const t1 = d.ips.get("t1")!;
  const home = join(d.stateDir, "..");
  const env = { HOME: home, BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" };
  for (const [mode, port] of [
    ["sink", "9100"],
    ["echo", "7007"],
  ] as const) {
    const file = join(home, `t1-${mode}.log`);
    d.mesh.spawn("t1", [BUN, TOOLS, mode, port], { logFile: file, env });
    await waitFor(`t1 ${mode}`, 20_000, async () => readText(file).includes("ready"));
  }
  await d.demo.waitForSessions(["t1", "t2"], 60_000);
  // The embedded node dials t1 when the first stream asks for it.
  await waitFor("a first stream through the embedded node", 30_000, async () => {
    const r = await d.mesh.exec(EMBEDDED_HOST, asNobody([...d.tools, "rtt", "127.0.0.1", "18082", "3"]), {
      env,
    });
    return r.stdout.includes("p50Ms");
  });
  if (LOSS > 0) {
    await d.mesh.link("t2", "lan").loss(LOSS);
    await d.mesh.link(EMBEDDED_HOST, "lan").loss(LOSS);
  }

  const bulk = async (host: string, target: string, port: string, nobody: boolean) => {
    const argv = [...(nobody ? d.tools : [BUN, TOOLS]), "send", target, port, String(BYTES)];
    const r = await d.mesh.exec(host, nobody ? asNobody(argv) : argv, { timeoutMs: 300_000, env });
    const o = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as {
      sha256?: string;
      answer?: string;
      seconds?: number;
    };
    if (!o.seconds || o.answer?.split(" ")[1] !== o.sha256)
      throw new Error(`bulk ${host}→${target}: ${r.stdout} ${r.stderr}`);
    return (BYTES * 8) / o.seconds / 1e6;
  };
  const rtt = async (host: string, target: string, port: string, nobody: boolean) => {
    const argv = [...(nobody ? d.tools : [BUN, TOOLS]), "rtt", target, port, String(N)];
    const r = await d.mesh.exec(host, nobody ? asNobody(argv) : argv, { timeoutMs: 120_000, env });
    const o = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { p50Ms?: number; p90Ms?: number };
    if (o.p50Ms === undefined) throw new Error(`rtt ${host}→${target}: ${r.stdout} ${r.stderr}`);
    return o as { p50Ms: number; p90Ms: number };
  };

  // Interleaved rounds, so load from other work on the machine hits both sides alike.
  const tun: number[] = [];
  const stream: number[] = [];
  let rssMax = 0;
  const sampler = setInterval(() => {
    try {
      rssMax = Math.max(rssMax, procInfo(d.proxy.pid).rssKiB);
    } catch {}
  }, 200);
  for (let round = 0; round < 2; round++) {
    tun.push(await bulk("t2", t1, "9100", false));
    stream.push(await bulk(EMBEDDED_HOST, "127.0.0.1", "18081", true));
    log(
      `round ${round + 1}: tun_tcp ${tun.at(-1)!.toFixed(0)} Mbit/s, stream ${stream.at(-1)!.toFixed(0)} Mbit/s`,
    );
  }
  clearInterval(sampler);
  const tunRtt = await rtt("t2", t1, "7007", false);
  const streamRtt = await rtt(EMBEDDED_HOST, "127.0.0.1", "18082", true);
  const best = (a: number[]) => Math.max(...a);
  const summary = {
    bytes: BYTES,
    loss_pct: LOSS,
    stream_mbps: best(stream).toFixed(1),
    tun_tcp_mbps: best(tun).toFixed(1),
    stream_vs_tun_tcp: (best(stream) / best(tun)).toFixed(3),
    stream_rtt_p50_ms: streamRtt.p50Ms.toFixed(2),
    stream_rtt_p90_ms: streamRtt.p90Ms.toFixed(2),
    tun_tcp_rtt_p50_ms: tunRtt.p50Ms.toFixed(2),
    tun_tcp_rtt_p90_ms: tunRtt.p90Ms.toFixed(2),
    embedded_rss_max_mib: (rssMax / 1024).toFixed(0),
  };
  console.log(
    Object.entries(summary)
      .map(([k, v]) => `${k}=${v}`)
      .join(" "),
  );
} catch (e) {
  failed = true;
  console.error(String(e));
  process.exitCode = 1;
} finally {
  await d.destroy(failed);
}
