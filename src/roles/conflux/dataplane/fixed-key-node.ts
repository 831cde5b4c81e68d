/**
 * A data-plane node with fixed, test-only keys derived from a shared seed: TUN + Dataplane +
 * one peer, until SIGTERM/SIGINT. It exists for the two-namespace tests and bench/throughput.sh
 * until handshakes drive the data plane; it must never carry real traffic (the keys are public).
 *
 *   fixed-key-node --side a|b --tun NAME --overlay 100.64.9.1/24 --peer-overlay 100.64.9.2
 *                  --listen 198.18.0.1:51900 --peer 198.18.0.2:51900 [--mtu 1420|auto] [--seed S] [--offload]
 *                  [--overlay6 fdXX::1/64 --peer-overlay6 fdXX::2]
 *                  [--socket-buffer BYTES]
 *
 * Prints `ready <json>` once forwarding, and `counters <json>` on exit.
 */
import { createHash } from "node:crypto";
import { parsePrefix } from "../../../ffi/inet.ts";
import { configureInterface } from "../../../ffi/netif.ts";
import { closeTun, openTun } from "../../../ffi/tun.ts";
import { MTU_MAX, MTU_MIN } from "../config.ts";
import { innerMtuFor, underlayLink } from "../underlay-mtu.ts";
import { Dataplane, openDataplaneTun } from "./dataplane.ts";
import { DataplaneConfigError } from "./errors.ts";

interface Args {
  side: "a" | "b";
  tun: string;
  overlay: string;
  peerOverlay: string;
  listen: { ip: string; port: number };
  peer: { ip: string; port: number };
  mtu: number;
  seed: string;
  offload: boolean;
  socketBuffer: number | undefined;
  overlay6: string | undefined;
  peerOverlay6: string | undefined;
}

function hostPort(s: string | undefined, what: string): { ip: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(s ?? "");
  if (!m) throw new DataplaneConfigError("DP_BAD_ARG", `--${what} wants IP:PORT`);
  return { ip: m[1]!, port: Number(m[2]) };
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(`--${flag}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const side = get("side");
  if (side !== "a" && side !== "b") throw new DataplaneConfigError("DP_BAD_ARG", "--side a|b");
  const need = (flag: string) => {
    const v = get(flag);
    if (!v) throw new DataplaneConfigError("DP_BAD_ARG", `--${flag} is required`);
    return v;
  };
  return {
    side,
    tun: need("tun"),
    overlay: need("overlay"),
    peerOverlay: need("peer-overlay"),
    listen: hostPort(get("listen"), "listen"),
    peer: hostPort(get("peer"), "peer"),
    // "auto": derived from the underlay as the Conflux node does (underlay-mtu.ts).
    mtu:
      get("mtu") === "auto"
        ? innerMtuFor(underlayLink([need("tun")]).mtu, MTU_MIN, MTU_MAX)
        : Number(get("mtu") ?? 1420),
    seed: get("seed") ?? "veilnet-fixed-test-keys",
    offload: argv.includes("--offload"),
    overlay6: get("overlay6"),
    peerOverlay6: get("peer-overlay6"),
    socketBuffer: get("socket-buffer") === undefined ? undefined : Number(get("socket-buffer")),
  };
}

const derive = (seed: string, label: string) =>
  new Uint8Array(createHash("sha256").update(`${seed}/${label}`).digest());

/** Runs the node until a signal; resolves with the exit code. */
export async function runFixedKeyNode(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  const other = a.side === "a" ? "b" : "a";
  const tun = a.offload ? openDataplaneTun(a.tun) : openTun({ name: a.tun });
  const addresses = a.overlay6 ? [a.overlay, a.overlay6] : [a.overlay];
  configureInterface(tun.name, { mtu: a.mtu, addresses, up: true });
  const dp = await Dataplane.start({
    tunFd: tun.fd,
    mtu: a.mtu,
    udpPort: a.listen.port,
    bindAddress: a.listen.ip,
    offload: a.offload,
    ...(a.socketBuffer ? { socketBuffer: a.socketBuffer } : {}),
  });
  const host = (ip: string) => `${ip.split("/")[0]}/${parsePrefix(ip).family === 4 ? 32 : 128}`;
  const peer4 = host(a.peerOverlay);
  const peer6 = a.peerOverlay6 ? host(a.peerOverlay6) : undefined;
  dp.setPeer(0, {
    endpoint: a.peer,
    sendKey: derive(a.seed, `${a.side}->${other}`),
    sendReceiverIndex: a.side === "a" ? 0xb0000001 : 0xa0000001,
    recvKey: derive(a.seed, `${other}->${a.side}`),
    localIndex: a.side === "a" ? 0xa0000001 : 0xb0000001,
    allowedSrcV4: peer4,
    ...(peer6 ? { allowedSrcV6: peer6 } : {}),
  });
  dp.route(peer4, 0);
  if (peer6) dp.route(peer6, 0);
  console.log(`ready ${JSON.stringify({ tun: tun.name, port: dp.port, pid: process.pid })}`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  const counters = dp.counters();
  await dp.stop();
  closeTun(tun);
  console.log(`counters ${JSON.stringify(counters)}`);
  return 0;
}

if (import.meta.main) {
  runFixedKeyNode(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`fixed-key-node: ${e instanceof Error ? e.message : e}`);
      process.exit(1);
    },
  );
}
