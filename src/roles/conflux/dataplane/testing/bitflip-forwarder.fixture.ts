/**
 * Test-only damaging UDP forwarder between two data-plane nodes (see bitflip-forwarder.c):
 *
 *   bitflip-forwarder.fixture.ts --every 1000 --x 198.18.9.2:51910=198.18.9.2:51900
 *                                             --y 198.18.9.2:51911=198.18.9.1:51900
 *
 * Datagrams arriving at the left address of --x go to its right address (same for --y); every
 * 1000th sealed segment gets one bit flipped. Runs its loop on a native thread; prints `ready`,
 * and on SIGTERM `forwarder <json>` with per-direction segment, flip, message and error counts.
 */
import { cc, ptr } from "bun:ffi";
import { IPPROTO_UDP, setSockOptInt } from "../../../../ffi/libc.ts";
import { encodeSockaddr, openUdpSocket } from "../../../../ffi/udp.ts";
import { LoopThreads } from "../loop-threads.ts";

const UDP_GRO = 104;
const BUFFER = 8 << 20;

const arg = (flag: string) => {
  const i = process.argv.indexOf(`--${flag}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`--${flag} is required`);
  return v;
};
const endpoint = (s: string) => {
  const m = /^(.+):(\d+)$/.exec(s);
  if (!m) throw new Error(`bad endpoint ${s}`);
  return { ip: m[1]!, port: Number(m[2]) };
};

const lib = cc({
  source: new URL("./bitflip-forwarder.c", import.meta.url).pathname,
  symbols: { fwd_run: { args: ["ptr"], returns: "i32" } },
});
const cfg = new SharedArrayBuffer(192);
const view = new DataView(cfg);
const bytes = new Uint8Array(cfg);
view.setUint32(12, Number(arg("every")), true);
for (const [d, flag] of ["x", "y"].entries()) {
  const [from, to] = arg(flag).split("=").map(endpoint) as [
    { ip: string; port: number },
    { ip: string; port: number },
  ];
  const s = openUdpSocket({
    port: from.port,
    bindAddress: from.ip,
    recvBuffer: BUFFER,
    sendBuffer: BUFFER,
    reusePort: false,
  });
  setSockOptInt(s.fd, IPPROTO_UDP, UDP_GRO, 1, "UDP_GRO");
  view.setInt32(4 + 4 * d, s.fd, true);
  bytes.set(encodeSockaddr(to, 4).bytes.subarray(0, 16), 16 + 16 * d);
}

const threads = new LoopThreads({ onWake: () => {} });
const run = (lib.symbols.fwd_run as unknown as { ptr: number }).ptr;
threads.spawn({ name: "forwarder", run, ctx: Number(ptr(bytes)) });
console.log("ready");

await new Promise<void>((resolve) => {
  process.once("SIGTERM", resolve);
  process.once("SIGINT", resolve);
});
Atomics.store(new Int32Array(cfg), 0, 1);
await threads.join(2000);
const c = new BigUint64Array(cfg, 64, 8);
const dir = (d: number) => ({
  segments: Number(c[4 * d]),
  flipped: Number(c[4 * d + 1]),
  messages: Number(c[4 * d + 2]),
  sendErrors: Number(c[4 * d + 3]),
});
console.log(`forwarder ${JSON.stringify({ x: dir(0), y: dir(1) })}`);
process.exit(0);
