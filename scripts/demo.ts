/**
 * The demo: a veilnet mesh in network namespaces on this machine.
 *   nat4 topology: 4 hosts behind 2 NAT routers, Master + Guardian on the public "control" host.
 * Every node enrols, finds its peers through Master, punches through the NATs and pings every
 * other node over the overlay. Everything is removed at the end, also on failure or Ctrl-C.
 */
import { resolve } from "node:path";
import { DemoMesh, waitFor } from "../testnet/demo/demo-mesh.ts";
import { installCounters, readCounters } from "../testnet/e2e/_tools.ts";
import { Mesh } from "../testnet/mesh.ts";

const binary = resolve(import.meta.dir, "../dist/veilnet");
const log = (line: string) => console.log(`[demo ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error("demo: needs root (network namespaces, TUN devices)");
    return 2;
  }
  log("bringing up the nat4 testnet (4 NATed hosts, 2 NAT routers, 1 control host)");
  const mesh = await Mesh.up({ topology: "nat4" });
  let demo: DemoMesh | undefined;
  try {
    const hosts = Object.values(mesh.hosts)
      .filter((h) => h.kind === "host" && h.name !== "control")
      .map((h) => h.name);
    // Count packets on the control host (Master + Guardian): data must never pass through it.
    await installCounters(mesh, "control");
    demo = await DemoMesh.start(mesh, { veilnet: [binary], controlHost: "control", nodeHosts: hosts, log });
    log(`conflux nodes starting on ${hosts.join(", ")}`);
    const ips = new Map<string, string>();
    await waitFor("every node to enrol", 60_000, async () => {
      for (const h of hosts) {
        const s = await demo!.status(h);
        if (!s) return false;
        ips.set(h, String(s.ipv4));
      }
      return true;
    });
    for (const h of hosts) log(`${h}: overlay ${ips.get(h)}`);
    const took = await waitFor("every pair to have a session", 60_000, async () => {
      for (const h of hosts) {
        const s = await demo!.status(h);
        const up = ((s?.peers as { state: string }[]) ?? []).filter((p) => p.state === "up").length;
        if (up < hosts.length - 1) return false;
      }
      return true;
    });
    log(`all ${(hosts.length * (hosts.length - 1)) / 2} sessions up after ${(took / 1000).toFixed(1)} s`);
    let failures = 0;
    for (const a of hosts) {
      for (const b of hosts) {
        if (a === b) continue;
        const r = await mesh.exec(a, ["ping", "-c", "3", "-i", "0.2", "-W", "2", ips.get(b)!]);
        const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1];
        log(`ping ${a} → ${b} (${ips.get(b)}): ${r.code === 0 ? `ok, avg ${rtt} ms` : "FAILED"}`);
        if (r.code !== 0) failures++;
      }
    }
    const c = await readCounters(mesh, "control");
    const udp = ["input", "forward", "output"].reduce((n, h) => n + (c[`${h}.udp`]?.packets ?? 0), 0);
    log(
      `control host (Master + Guardian): ${udp} UDP packets in, out or forwarded; ` +
        `${c["input.tcp"]?.packets ?? 0} TCP control packets in, ${c["forward.tcp"]?.packets ?? 0} forwarded`,
    );
    if (udp !== 0 || (c["forward.tcp"]?.packets ?? 0) !== 0) failures++;
    log(
      failures === 0
        ? "demo passed: every node reaches every other over the overlay"
        : `${failures} pings failed`,
    );
    return failures === 0 ? 0 : 1;
  } catch (err) {
    if (demo) {
      for (const name of ["master", "guardian", ...demo.nodes.keys()]) {
        const text = await Bun.file(demo.logPath(name))
          .text()
          .catch(() => "");
        console.error(`--- last lines of ${name}.log ---\n${text.split("\n").slice(-15).join("\n")}`);
      }
    }
    throw err;
  } finally {
    log("tearing down");
    await mesh.destroy();
    demo?.cleanupFiles();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
