/**
 * Hostile-input run inside a fresh network namespace (spawned by fuzz.test.ts): thousands of
 * random datagrams, random transport messages for a live receiver index, and authenticated but
 * malformed or TCP-shaped inner packets (which exercise the coalescer in offload mode). The data
 * plane must keep running and account for every datagram under exactly one counter.
 * Prints one JSON line. Deterministic: a seeded xorshift generator drives all choices.
 */
import { parseIPv4 } from "../../../../ffi/inet.ts";
import { configureInterface } from "../../../../ffi/netif.ts";
import { inetChecksum } from "../../../../ffi/testing/ip-packets.ts";
import { closeTun, openTun, TUN_F_CSUM, TUN_F_TSO4 } from "../../../../ffi/tun.ts";
import { Dataplane } from "../dataplane.ts";
import { referenceSeal } from "../seal-reference.ts";

const offload = process.argv.includes("--offload");
let seed = 0x2545f491;
const rnd = (n: number) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const bytes = (n: number) => Uint8Array.from({ length: n }, () => rnd(256));

const K_RECV = new Uint8Array(32).fill(0x42);
const LOCAL_INDEX = 0x01020304;
const OWN4 = parseIPv4("100.64.60.1")!;
const PEER4 = parseIPv4("100.64.60.2")!;

const tun = openTun({ name: "vfz0", vnetHdr: offload, offload: offload ? TUN_F_CSUM | TUN_F_TSO4 : 0 });
configureInterface(tun.name, { mtu: 1420, addresses: ["100.64.60.1/24"], up: true });
const dp = await Dataplane.start({ tunFd: tun.fd, udpPort: 0, bindAddress: "127.0.0.1" });
dp.onControl(() => {});
const peer = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: () => {}, error: () => {} } });
dp.setPeer(0, {
  endpoint: { ip: "127.0.0.1", port: peer.port },
  sendKey: new Uint8Array(32).fill(0x41),
  sendReceiverIndex: 9,
  recvKey: K_RECV,
  localIndex: LOCAL_INDEX,
  allowedSrcV4: "100.64.60.2/32",
});
dp.route("100.64.60.0/24", 0);

let ipId = 1;
/** An IPv4/TCP packet to our own address with fields chosen to probe the coalescer's checks. */
function tcpish(seq: number, payload: number): Uint8Array {
  const doff = rnd(8) === 0 ? rnd(16) : 5 + rnd(3);
  const hl = Math.max(20, doff * 4);
  const p = new Uint8Array(20 + hl + payload);
  const v = new DataView(p.buffer);
  p[0] = rnd(10) === 0 ? 0x40 | rnd(16) : 0x45;
  v.setUint16(2, rnd(20) === 0 ? rnd(65536) : p.length);
  v.setUint16(4, rnd(10) === 0 ? rnd(65536) : ipId++ & 0xffff); // mostly consecutive, as GRO wants
  v.setUint16(6, rnd(10) === 0 ? rnd(65536) : 0x4000);
  p[8] = 64;
  p[9] = 6;
  p.set(PEER4, 12);
  p.set(OWN4, 16);
  v.setUint16(10, inetChecksum(p.subarray(0, 20)));
  v.setUint16(20, 40000);
  v.setUint16(22, 5555);
  v.setUint32(24, seq >>> 0);
  v.setUint32(28, 7);
  p[32] = doff << 4;
  p[33] = rnd(4) === 0 ? rnd(256) : 0x10 | (rnd(2) ? 0x08 : 0);
  p.set(bytes(payload), 20 + hl);
  return p;
}

let sent = 0;
let counter = 0n;
let seq = 1000;
const send = (d: Uint8Array) => {
  peer.send(d, dp.port, "127.0.0.1");
  sent++;
};
for (let round = 0; round < 25; round++) {
  for (let i = 0; i < 200; i++) {
    const kind = rnd(6);
    if (kind === 0) {
      send(bytes(rnd(1600))); // anything at all
    } else if (kind === 1) {
      const d = bytes(16 + rnd(1500)); // transport-shaped garbage for the live index
      d[0] = 4;
      d[1] = d[2] = d[3] = 0;
      new DataView(d.buffer).setUint32(4, LOCAL_INDEX, true);
      send(d);
    } else if (kind === 2) {
      send(referenceSeal(K_RECV, LOCAL_INDEX, counter++, bytes(rnd(1400)))); // authenticated junk
    } else if (kind === 3 && counter > 10n) {
      send(referenceSeal(K_RECV, LOCAL_INDEX, counter - BigInt(1 + rnd(10)), bytes(20))); // replays
    } else {
      const payload = rnd(3) === 0 ? rnd(1300) : 1300; // runs of full segments, sometimes short
      send(referenceSeal(K_RECV, LOCAL_INDEX, counter++, tcpish(seq, payload)));
      seq += rnd(8) === 0 ? rnd(5000) : payload;
    }
  }
  await Bun.sleep(15); // stay below the socket buffer: every datagram must be accounted for
}
await Bun.sleep(300);
const c = dp.counters();
const outcomes =
  c.rxPackets +
  c.rxKeepalives +
  c.rxControl +
  c.dropRxShort +
  c.dropRxMalformedHeader +
  c.dropRxUnknownIndex +
  c.dropRxReplay +
  c.dropRxBadTag +
  c.dropRxSpoofed +
  c.dropRxMalformedInner +
  c.dropRxTruncated +
  c.dropRxControlRingFull +
  c.dropRxControlTooBig +
  c.dropRxCellMalformed +
  c.dropRxCellUnknownLabel +
  c.dropRxRelayNoOutKey +
  c.dropRxRelayCounterExhausted +
  c.dropRxRelaySendError +
  c.rxRelayed;
const status = dp.status();
await dp.stop();
peer.close();
closeTun(tun);
console.log(JSON.stringify({ sent, outcomes, status, counters: c }));
process.exit(0);
