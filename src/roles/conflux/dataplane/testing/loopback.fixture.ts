/**
 * Runs inside a fresh network namespace (spawned by dataplane.test.ts). One data plane on a real
 * TUN; its "peer" is a plain UDP socket on loopback that seals/opens with the node:crypto
 * reference. Checks the native seal byte for byte, nonce uniqueness across batches, the RX path,
 * every drop reason, keepalives, rekeying and the control-datagram path. Prints one JSON line.
 * With `--offload` the TUN carries virtio_net_hdr (checksum/TSO offload) and RX coalesces.
 */
import { parseIPv4, parseIPv6 } from "../../../../ffi/inet.ts";
import { configureInterface } from "../../../../ffi/netif.ts";
import {
  icmpv4EchoRequest,
  icmpv6EchoRequest,
  parseEcho,
  udpv4ChecksumOk,
  udpv4Packet,
} from "../../../../ffi/testing/ip-packets.ts";
import { closeTun, openTun, TUN_F_CSUM, TUN_F_TSO4 } from "../../../../ffi/tun.ts";
import { Dataplane } from "../dataplane.ts";
import { referenceOpen, referenceSeal } from "../seal-reference.ts";

const key = (b: number) => new Uint8Array(32).fill(b);
const K_SEND = key(0x11);
const K_RECV = key(0x22);
const K_SEND2 = key(0x33);
const K_RECV2 = key(0x44);
const PEER_RX_INDEX = 0x11223344; // the peer's index: our packets carry it
const LOCAL_INDEX = 0xa1b2c3d4; // our index: the peer's packets carry it
const LOCAL_INDEX2 = 0x0badf00d;
const OWN4 = parseIPv4("100.64.50.1")!;
const PEER4 = parseIPv4("100.64.50.2")!;
const SPOOF4 = parseIPv4("100.64.50.9")!;
const OWN6 = parseIPv6("fd5e:d9:50::1")!;
const PEER6 = parseIPv6("fd5e:d9:50::2")!;

async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await Bun.sleep(5);
  }
  return true;
}

const offload = process.argv.includes("--offload");
const tun = openTun({ name: "vdp0", vnetHdr: offload, offload: offload ? TUN_F_CSUM | TUN_F_TSO4 : 0 });
configureInterface(tun.name, { mtu: 1420, addresses: ["100.64.50.1/24", "fd5e:d9:50::1/64"], up: true });
let mismatch = "";
try {
  await Dataplane.start({ tunFd: tun.fd, udpPort: 0, bindAddress: "127.0.0.1", offload: !offload });
} catch (e) {
  mismatch = (e as { code?: string }).code ?? String(e);
}
const dp = await Dataplane.start({ tunFd: tun.fd, udpPort: 0, bindAddress: "127.0.0.1" });

const atPeer: Uint8Array[] = [];
const peer = await Bun.udpSocket({
  hostname: "127.0.0.1",
  socket: {
    data: (_s, buf) => {
      atPeer.push(new Uint8Array(buf));
    },
    error: () => {},
  },
});
const toDp = (b: Uint8Array) => peer.send(b, dp.port, "127.0.0.1");

const delivered: string[] = [];
const app = await Bun.udpSocket({
  hostname: "100.64.50.1",
  port: 7777,
  socket: { data: (_s, buf) => void delivered.push(new TextDecoder().decode(buf)), error: () => {} },
});
const control: { data: string; port: number }[] = [];
dp.onControl((d, from) => control.push({ data: Buffer.from(d).toString("hex"), port: from.port }));

dp.setPeer(0, {
  endpoint: { ip: "127.0.0.1", port: peer.port },
  sendKey: K_SEND,
  sendReceiverIndex: PEER_RX_INDEX,
  recvKey: K_RECV,
  localIndex: LOCAL_INDEX,
  allowedSrcV4: "100.64.50.2/32",
  allowedSrcV6: "fd5e:d9:50::2/128",
});
dp.route("100.64.50.2/32", 0);
dp.route("fd5e:d9:50::2/128", 0);

// --- TX: a burst through the kernel → TUN → native seal → peer; compare with the reference.
const BURST = 300;
const sender = await Bun.udpSocket({ socket: { data: () => {}, error: () => {} } });
for (let i = 0; i < BURST; i++) sender.send(`burst ${i}`, 9999, "100.64.50.2");
await waitFor(() => atPeer.length >= BURST);
const tx = atPeer.splice(0);
let sealsMatch = 0;
let payloadsSeen = 0;
let udpChecksumsOk = 0;
const counters: bigint[] = [];
for (const d of tx) {
  const o = referenceOpen(K_SEND, d);
  if (!o) continue;
  counters.push(o.counter);
  if (udpv4ChecksumOk(o.plaintext)) udpChecksumsOk++;
  const again = referenceSeal(K_SEND, PEER_RX_INDEX, o.counter, o.plaintext);
  if (Buffer.compare(again, d) === 0 && o.receiver === PEER_RX_INDEX) sealsMatch++;
  if (new TextDecoder().decode(o.plaintext.subarray(28)).startsWith("burst ")) payloadsSeen++;
}
const strictlyIncreasing = counters.every((c, i) => i === 0 || c > counters[i - 1]!);
const uniqueCounters = new Set(counters.map(String)).size;
const afterBurst = dp.counters();

// --- RX: valid packets from the peer reach a socket on the TUN address.
let ctr = 0n;
const inner = (src: Uint8Array, text: string) =>
  udpv4Packet(src, OWN4, 4000, 7777, new TextEncoder().encode(text));
for (let i = 0; i < 5; i++) toDp(referenceSeal(K_RECV, LOCAL_INDEX, ctr++, inner(PEER4, `hello ${i}`)));
await waitFor(() => delivered.length >= 5);
const base = dp.counters();
// Drops, one each.
toDp(referenceSeal(K_RECV, LOCAL_INDEX, 2n, inner(PEER4, "replayed"))); // replay
const bad = referenceSeal(K_RECV, LOCAL_INDEX, ctr++, inner(PEER4, "tampered"));
bad[20]! ^= 1;
toDp(bad); // bad tag
toDp(referenceSeal(K_RECV, 0x55555555, ctr++, inner(PEER4, "who"))); // unknown index
toDp(new Uint8Array([4, 0, 0, 0, 1, 2, 3])); // short
const reserved = referenceSeal(K_RECV, LOCAL_INDEX, ctr++, inner(PEER4, "reserved"));
reserved[2] = 7;
toDp(reserved); // malformed header
toDp(referenceSeal(K_RECV, LOCAL_INDEX, ctr++, inner(SPOOF4, "spoofed"))); // spoofed source
toDp(referenceSeal(K_RECV, LOCAL_INDEX, ctr++, new Uint8Array([0x45, 0, 0]))); // malformed inner
toDp(referenceSeal(K_RECV, LOCAL_INDEX, ctr++, new Uint8Array(0))); // keepalive
toDp(new Uint8Array(0)); // empty datagram
toDp(new Uint8Array([1, 0xde, 0xad, 0xbe, 0xef])); // control (handshake initiation type)
await waitFor(() => dp.counters().dropRxMalformedInner > base.dropRxMalformedInner && control.length >= 1);
await Bun.sleep(50);
const drops = dp.counters();

// --- RX → kernel → TX round trips: ICMP and ICMPv6 echo.
const pl = new TextEncoder().encode("veilnet echo");
toDp(
  referenceSeal(
    K_RECV,
    LOCAL_INDEX,
    ctr++,
    icmpv4EchoRequest({ src: PEER4, dst: OWN4, id: 77, seq: 1, payload: pl }),
  ),
);
toDp(
  referenceSeal(
    K_RECV,
    LOCAL_INDEX,
    ctr++,
    icmpv6EchoRequest({ src: PEER6, dst: OWN6, id: 78, seq: 2, payload: pl }),
  ),
);
await waitFor(() => atPeer.length >= 2);
const echoes = atPeer.splice(0).map((d) => {
  const e = parseEcho(referenceOpen(K_SEND, d)?.plaintext ?? new Uint8Array(0));
  return e ? { family: e.family, type: e.type, id: e.id, ok: e.icmpChecksumOk } : null;
});

// --- control path out, keepalive, and a rekey that keeps the previous receive key alive.
const ctrlOut = dp.sendControl(new Uint8Array([2, 9, 9, 9]), { ip: "127.0.0.1", port: peer.port });
dp.sendKeepalive(0);
await waitFor(() => atPeer.length >= 2);
const misc = atPeer.splice(0).map((d) => ({
  type: d[0],
  len: d.length,
  keepaliveOpens: d[0] === 4 && referenceOpen(K_SEND, d)?.plaintext.length === 0,
}));
dp.rekey(0, {
  sendKey: K_SEND2,
  sendReceiverIndex: PEER_RX_INDEX + 1,
  recvKey: K_RECV2,
  localIndex: LOCAL_INDEX2,
});
toDp(referenceSeal(K_RECV, LOCAL_INDEX, ctr++, inner(PEER4, "old key")));
toDp(referenceSeal(K_RECV2, LOCAL_INDEX2, 0n, inner(PEER4, "new key")));
await waitFor(() => delivered.length >= 7);
sender.send("after rekey", 9999, "100.64.50.2");
await waitFor(() => atPeer.length >= 1);
const afterRekey = atPeer.splice(0).map((d) => {
  const o = referenceOpen(K_SEND2, d);
  return o ? { receiver: o.receiver, counter: Number(o.counter) } : null;
});
let reuseRefused = false;
try {
  dp.rekey(0, { sendKey: K_SEND2, sendReceiverIndex: 1, recvKey: key(0x55), localIndex: 1234 });
} catch (e) {
  reuseRefused = (e as { code?: string }).code === "DP_SEND_KEY_REUSED";
}
// --- a second peer behind a prefix route (longest match wins), then removed.
const atPeer2: Uint8Array[] = [];
const peer2 = await Bun.udpSocket({
  hostname: "127.0.0.1",
  socket: { data: (_s, buf) => void atPeer2.push(new Uint8Array(buf)), error: () => {} },
});
const K_SEND_P2 = key(0x66);
dp.setPeer(5, {
  endpoint: { ip: "127.0.0.1", port: peer2.port },
  sendKey: K_SEND_P2,
  sendReceiverIndex: 0x5555,
  recvKey: key(0x77),
  localIndex: 0x7777,
  allowedSrcV4: "100.64.50.128/25",
});
dp.route("100.64.50.128/25", 5);
dp.route("100.64.50.0/24", 0); // shorter than /25 and /32: must not capture .200
sender.send("to peer two", 9999, "100.64.50.200");
sender.send("to peer one", 9999, "100.64.50.2");
await waitFor(() => atPeer2.length >= 1 && atPeer.length >= 1);
const routed = {
  peer2: atPeer2
    .splice(0)
    .map((d) => new TextDecoder().decode(referenceOpen(K_SEND_P2, d)?.plaintext.subarray(28))),
  peer1: atPeer
    .splice(0)
    .map((d) => new TextDecoder().decode(referenceOpen(K_SEND2, d)?.plaintext.subarray(28))),
};
dp.removePeer(5);
sender.send("after removal", 9999, "100.64.50.200");
await waitFor(() => atPeer.length >= 1, 1000);
await Bun.sleep(100);
const removal = {
  peer2Got: atPeer2.length,
  peer1: atPeer
    .splice(0)
    .map((d) => new TextDecoder().decode(referenceOpen(K_SEND2, d)?.plaintext.subarray(28))),
};
peer2.close();

const stats = dp.peerStats(0);
const running = dp.status();
await dp.stop();
const stopped = dp.status();
peer.close();
app.close();
sender.close();
closeTun(tun);

console.log(
  JSON.stringify({
    burst: BURST,
    txReceived: tx.length,
    sealsMatch,
    payloadsSeen,
    udpChecksumsOk,
    strictlyIncreasing,
    uniqueCounters,
    firstCounter: Number(counters[0] ?? -1n),
    afterBurst,
    delivered,
    base,
    drops,
    control,
    echoes,
    ctrlOut,
    misc,
    afterRekey,
    reuseRefused,
    mismatch,
    running,
    stopped,
    routed,
    removal,
    stats: { ...stats, sendCounter: Number(stats.sendCounter) },
    final: dp.counters(),
  }),
);
process.exit(0);
