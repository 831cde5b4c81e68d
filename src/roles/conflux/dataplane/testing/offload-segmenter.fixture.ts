/**
 * Runs inside a fresh network namespace (spawned by offload-segmenter.test.ts). Drives the native
 * TX and RX loops with offload through a socketpair "TUN" (see socketpair-dataplane.ts):
 *   TX: crafted virtio_net_hdr super-packets in → sealed segments out to a plain UDP socket,
 *       opened with the node:crypto reference and compared byte for byte with referenceSegment.
 *   RX: crafted segment runs, sealed by the reference and sent as ONE UDP_SEGMENT message (so the
 *       data plane sees one UDP_GRO batch and the grouping is deterministic) → TUN writes compared
 *       byte for byte with referenceCoalesce.
 * Prints one JSON line.
 */
import { dlopen, ptr } from "bun:ffi";
import { parseIPv4, parseIPv6 } from "../../../../ffi/inet.ts";
import { referenceOpen, referenceSeal } from "../seal-reference.ts";
import { SocketpairDataplane } from "./socketpair-dataplane.ts";
import {
  ACK,
  CWR,
  concat,
  FIN,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  hex,
  ipv4HeaderOk,
  l3Len,
  l4ChecksumOk,
  PSH,
  pattern,
  pseudoSum,
  referenceCoalesce,
  referenceSegment,
  SYN,
  type TcpSpec,
  tcpPacket,
  timestampOption,
  VNET,
  VNET_F_NEEDS_CSUM,
  vnetBytes,
} from "./tcp-offload-reference.ts";

const MTU = 1420;
const K_TX = new Uint8Array(32).fill(0x5a); // the data plane seals with it
const K_RX = new Uint8Array(32).fill(0xa5); // the data plane opens with it
const PEER_INDEX = 0x01020304;
const LOCAL_INDEX = 0x0a0b0c0d;
const OWN4 = parseIPv4("100.64.60.1")!;
const PEER4 = parseIPv4("100.64.60.2")!;
const OWN6 = parseIPv6("fd5e:d9:60::1")!;
const PEER6 = parseIPv6("fd5e:d9:60::2")!;

async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await Bun.sleep(2);
  }
  return true;
}

const dp = await SocketpairDataplane.start(MTU);
const atPeer: Uint8Array[] = [];
const peer = await Bun.udpSocket({
  hostname: "127.0.0.1",
  socket: { data: (_s, b) => void atPeer.push(new Uint8Array(b)), error: () => {} },
});
dp.setPeer(0, {
  endpoint: { ip: "127.0.0.1", port: peer.port },
  sendKey: K_TX,
  sendReceiverIndex: PEER_INDEX,
  recvKey: K_RX,
  localIndex: LOCAL_INDEX,
  allowedSrcV4: "100.64.60.2/32",
  allowedSrcV6: "fd5e:d9:60::2/128",
  routes: ["100.64.60.2/32", "fd5e:d9:60::2/128"],
});

// ------------------------------------------------------------------ TX: segmentation
interface TxCase {
  name: string;
  read: Uint8Array;
  /** null: must be dropped as malformed. */
  expect: "segments" | "dropped";
}

function tso(spec: TcpSpec, mss: number, hdrLen: number): Uint8Array {
  // The kernel hands the TCP checksum field holding the pseudo-header sum; any value must do.
  const pkt = tcpPacket({ ...spec, checksums: false });
  const l3 = l3Len(pkt);
  new DataView(pkt.buffer).setUint16(l3 + 16, pseudoSum(pkt, 6, pkt.length - l3));
  const v = vnetBytes({
    flags: VNET_F_NEEDS_CSUM,
    gsoType: spec.v6 ? GSO_TCPV6 : GSO_TCPV4,
    hdrLen,
    gsoSize: mss,
    csumStart: l3,
    csumOffset: 16,
  });
  return concat(v, pkt);
}

const v4 = { src: OWN4, dst: PEER4 };
const v6 = { v6: true, src: OWN6, dst: PEER6 };
const ts = timestampOption(0xdeadbeef, 0x01020304);
const txCases: TxCase[] = [
  {
    name: "v4 seq wrap, timestamps, FIN|PSH|CWR, IP ID wrap, bogus hdr_len 7",
    read: tso(
      {
        ...v4,
        sport: 40001,
        dport: 5201,
        seq: 2 ** 32 - 3000,
        ack: 0x11111111,
        flags: ACK | PSH | FIN | CWR,
        options: ts,
        payload: pattern(1368 * 10 + 100, 1),
        id: 0xfffd,
        tos: 0x28,
        ttl: 63,
      },
      1368,
      7,
    ),
    expect: "segments",
  },
  {
    name: "v6 seq wrap, timestamps, FIN|PSH|CWR, bogus hdr_len 0xffff",
    read: tso(
      {
        ...v6,
        sport: 40002,
        dport: 5201,
        seq: 2 ** 32 - 1348 * 2 - 5,
        ack: 0x22222222,
        flags: ACK | PSH | FIN | CWR,
        options: ts,
        payload: pattern(1348 * 6 + 1, 2),
        tos: 0x10,
      },
      1348,
      0xffff,
    ),
    expect: "segments",
  },
  {
    name: "v4 with IP options, 64,000-byte super-packet (two GSO messages), hdr_len 0",
    read: tso(
      {
        ...v4,
        sport: 40003,
        dport: 5201,
        seq: 123456,
        ack: 1,
        flags: ACK,
        ipOptions: new Uint8Array([1, 1, 1, 0]),
        payload: pattern(64_000 - 44, 3),
        id: 100,
      },
      1376,
      0,
    ),
    expect: "segments",
  },
  {
    name: "v6 large (65,000 bytes), no options",
    read: tso(
      { ...v6, sport: 40004, dport: 5201, seq: 7, ack: 9, flags: ACK | PSH, payload: pattern(64_940, 4) },
      1360,
      60,
    ),
    expect: "segments",
  },
  {
    name: "v4 payload an exact multiple of the MSS",
    read: tso(
      {
        ...v4,
        sport: 40005,
        dport: 5201,
        seq: 1000,
        ack: 2,
        flags: ACK | PSH,
        payload: pattern(1000 * 4, 5),
      },
      1000,
      40,
    ),
    expect: "segments",
  },
  {
    name: "no GSO, NEEDS_CSUM: TCP checksum completed",
    read: (() => {
      const pkt = tcpPacket({
        ...v4,
        sport: 40006,
        dport: 5201,
        seq: 1,
        ack: 1,
        flags: ACK,
        payload: pattern(300, 6),
        checksums: false,
      });
      // IPv4 header checksum present, TCP field holds the pseudo-header sum.
      const full = tcpPacket({
        ...v4,
        sport: 40006,
        dport: 5201,
        seq: 1,
        ack: 1,
        flags: ACK,
        payload: pattern(300, 6),
      });
      pkt.set(full.subarray(0, 20));
      new DataView(pkt.buffer).setUint16(36, pseudoSum(pkt, 6, pkt.length - 20));
      const v = vnetBytes({
        flags: VNET_F_NEEDS_CSUM,
        gsoType: GSO_NONE,
        hdrLen: 0,
        gsoSize: 0,
        csumStart: 20,
        csumOffset: 16,
      });
      return concat(v, pkt);
    })(),
    expect: "segments",
  },
  {
    name: "malformed: csum_start does not match the IP header",
    read: (() => {
      const r = tso(
        { ...v4, sport: 40007, dport: 5201, seq: 1, ack: 1, flags: ACK, payload: pattern(3000, 7) },
        1000,
        40,
      );
      new DataView(r.buffer).setUint16(6, 24, true);
      return r;
    })(),
    expect: "dropped",
  },
  {
    name: "malformed: header + gso_size above the MTU",
    read: tso(
      { ...v4, sport: 40008, dport: 5201, seq: 1, ack: 1, flags: ACK, payload: pattern(3000, 8) },
      1401,
      40,
    ),
    expect: "dropped",
  },
  {
    name: "malformed: gso_size 0",
    read: tso(
      { ...v4, sport: 40009, dport: 5201, seq: 1, ack: 1, flags: ACK, payload: pattern(3000, 9) },
      0,
      40,
    ),
    expect: "dropped",
  },
];

const txResults: Record<string, unknown>[] = [];
let lastCounter = -1n;
for (const c of txCases) {
  const before = dp.counters();
  const expected = c.expect === "segments" ? referenceSegment(c.read) : [];
  dp.inject(c.read);
  if (c.expect === "segments") await waitFor(() => atPeer.length >= expected.length);
  else await waitFor(() => dp.counters().dropTxMalformed > before.dropTxMalformed);
  await Bun.sleep(30);
  const got = atPeer.splice(0);
  const after = dp.counters();
  let exact = 0;
  let checksumsOk = 0;
  let countersConsecutive = true;
  const flags: number[] = [];
  const seqs: number[] = [];
  const ids: number[] = [];
  got.forEach((d, i) => {
    const o = referenceOpen(K_TX, d);
    if (!o) return;
    if (o.counter !== lastCounter + 1n) countersConsecutive = false;
    lastCounter = o.counter;
    const pt = o.plaintext;
    const l3 = l3Len(pt);
    if (expected[i] && hex(pt) === hex(expected[i]!)) exact++;
    if (ipv4HeaderOk(pt) && l4ChecksumOk(pt)) checksumsOk++;
    const dv = new DataView(pt.buffer, pt.byteOffset);
    flags.push(pt[l3 + 13]!);
    seqs.push(dv.getUint32(l3 + 4));
    if (l3 !== 40) ids.push(dv.getUint16(4));
  });
  txResults.push({
    name: c.name,
    expected: expected.length,
    received: got.length,
    exact,
    checksumsOk,
    countersConsecutive,
    flags,
    seqs,
    ids,
    gsoMessages: after.txGsoMessages - before.txGsoMessages,
    tsoReads: after.txTsoReads - before.txTsoReads,
    malformed: after.dropTxMalformed - before.dropTxMalformed,
  });
}

// ------------------------------------------------------------------ RX: coalescing
const libc = dlopen("libc.so.6", {
  sendmsg: { args: ["i32", "ptr", "i32"], returns: "i64" },
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
});
const sender = libc.symbols.socket(2, 2, 0);
const UDP_SEGMENT = 103;
/** Sends `datagrams` (all but the last the same size) as ONE UDP_SEGMENT message to the data plane. */
function sendGso(datagrams: Uint8Array[]): number {
  const size = datagrams[0]!.length;
  const body = new Uint8Array(new ArrayBuffer(datagrams.reduce((n, d) => n + d.length, 0)));
  let o = 0;
  for (const d of datagrams) {
    body.set(d, o);
    o += d.length;
  }
  const name = new Uint8Array(new ArrayBuffer(16));
  const nv = new DataView(name.buffer);
  nv.setUint16(0, 2, true);
  nv.setUint16(2, dp.port, false);
  name.set([127, 0, 0, 1], 4);
  const iov = new Uint8Array(new ArrayBuffer(16));
  new DataView(iov.buffer).setBigUint64(0, BigInt(ptr(body)), true);
  new DataView(iov.buffer).setBigUint64(8, BigInt(body.length), true);
  const cmsg = new Uint8Array(new ArrayBuffer(24));
  const cv = new DataView(cmsg.buffer);
  cv.setBigUint64(0, 18n, true);
  cv.setInt32(8, 17, true);
  cv.setInt32(12, UDP_SEGMENT, true);
  cv.setUint16(16, size, true);
  const msg = new Uint8Array(new ArrayBuffer(56));
  const mv = new DataView(msg.buffer);
  mv.setBigUint64(0, BigInt(ptr(name)), true);
  mv.setUint32(8, 16, true);
  mv.setBigUint64(16, BigInt(ptr(iov)), true);
  mv.setBigUint64(24, 1n, true);
  if (datagrams.length > 1) {
    mv.setBigUint64(32, BigInt(ptr(cmsg)), true);
    mv.setBigUint64(40, 24n, true);
  }
  return Number(libc.symbols.sendmsg(sender, ptr(msg), 0));
}

let rxCounter = 0n;
/** Seals inner packets, padding each datagram to the largest so one GSO message carries them. */
function sealRun(packets: Uint8Array[]): Uint8Array[] {
  const max = Math.max(...packets.map((p) => p.length));
  return packets.map((p) => {
    const padded = new Uint8Array(max);
    padded.set(p); // bytes past the IP length are trailing padding: delivered packets are trimmed
    return referenceSeal(K_RX, LOCAL_INDEX, rxCounter++, padded);
  });
}

interface Seg extends Partial<TcpSpec> {
  len?: number;
}
/** A flow of consecutive segments; per-segment overrides in `mods`. */
function flow(
  base: TcpSpec & { mss: number },
  n: number,
  mods: (i: number) => Seg = () => ({}),
): Uint8Array[] {
  const out: Uint8Array[] = [];
  let seq = base.seq;
  for (let i = 0; i < n; i++) {
    const m = mods(i);
    const len = m.len ?? base.mss;
    const spec: TcpSpec = {
      ...base,
      seq,
      id: (base.id ?? 0) + i,
      ...m,
      payload: pattern(len, i + base.sport),
    };
    if (m.seq !== undefined) seq = m.seq;
    out.push(tcpPacket(spec));
    seq = (seq + len) >>> 0;
  }
  return out;
}

const rxBase = (sport: number, over: Partial<TcpSpec & { mss: number }> = {}) =>
  ({
    src: PEER4,
    dst: OWN4,
    sport,
    dport: 5201,
    seq: 1000,
    ack: 77,
    flags: ACK,
    options: ts,
    mss: 1368,
    ...over,
  }) as TcpSpec & {
    mss: number;
  };
const rxBase6 = (sport: number, over: Partial<TcpSpec & { mss: number }> = {}) =>
  ({
    v6: true,
    src: PEER6,
    dst: OWN6,
    sport,
    dport: 5201,
    seq: 1000,
    ack: 77,
    flags: ACK,
    options: ts,
    mss: 1348,
    ...over,
  }) as TcpSpec & {
    mss: number;
  };

const rxCases: { name: string; packets: Uint8Array[] }[] = [
  {
    name: "v4 run of 10 across seq 2^32, last with PSH",
    packets: flow(rxBase(41001, { seq: 2 ** 32 - 5000 }), 10, (i) => (i === 9 ? { flags: ACK | PSH } : {})),
  },
  { name: "v6 run of 8 across seq 2^32", packets: flow(rxBase6(41002, { seq: 2 ** 32 - 1348 * 3 }), 8) },
  {
    name: "v4 PSH in the middle closes the run",
    packets: flow(rxBase(41003), 7, (i) => (i === 3 ? { flags: ACK | PSH } : {})),
  },
  {
    name: "v4 shorter segment closes the run",
    packets: flow(rxBase(41004), 7, (i) => (i === 2 ? { len: 700 } : {})),
  },
  { name: "v4 ack changes", packets: flow(rxBase(41005), 6, (i) => (i >= 4 ? { ack: 78 } : {})) },
  {
    name: "v4 timestamp option changes",
    packets: flow(rxBase(41006), 6, (i) =>
      i >= 3 ? { options: timestampOption(0xdeadbef0, 0x01020304) } : {},
    ),
  },
  {
    name: "v4 sequence gap",
    packets: flow(rxBase(41007), 6, (i) => (i === 3 ? { seq: 1000 + 1368 * 3 + 1 } : {})),
  },
  {
    name: "v4 TTL and TOS change",
    packets: flow(rxBase(41008), 6, (i) => (i === 2 ? { ttl: 60 } : i === 4 ? { tos: 4 } : {})),
  },
  {
    name: "v4 with IP options: never coalesced",
    packets: flow(rxBase(41009, { ipOptions: new Uint8Array([1, 1, 1, 0]), mss: 1364 }), 4),
  },
  { name: "v4 fragment (MF): never coalesced", packets: flow(rxBase(41010, { frag: 0x2000 }), 3) },
  {
    name: "v4 FIN, SYN and CWR end or skip runs",
    packets: flow(rxBase(41011), 8, (i) =>
      i === 2 ? { flags: ACK | FIN } : i === 4 ? { flags: ACK | SYN } : i === 6 ? { flags: ACK | CWR } : {},
    ),
  },
  {
    name: "v4 and v6 interleaved, pure ACK (no payload)",
    packets: [
      ...flow(rxBase(41012), 2),
      ...flow(rxBase6(41012), 2),
      ...flow(rxBase(41012, { seq: 1000 + 2 * 1368 }), 1, () => ({ len: 0 })),
    ],
  },
  { name: "v4 window changes", packets: flow(rxBase(41015), 6, (i) => (i >= 3 ? { window: 600 } : {})) },
  {
    name: "v4 IP id jumps (not consecutive) ends the run",
    packets: flow(rxBase(41016), 6, (i) => (i >= 3 ? { id: 500 + i } : {})),
  },
  {
    name: "v4 fixed IP id, with DF or without: never coalesced (a GSO write would renumber it)",
    packets: [
      ...flow(rxBase(41017, { frag: 0x4000 }), 4, () => ({ id: 9 })),
      ...flow(rxBase(41018, { frag: 0 }), 4, () => ({ id: 9 })),
    ],
  },
  { name: "v4 72 small segments: runs of at most 64", packets: flow(rxBase(41013, { mss: 100 }), 72) },
  {
    name: "v6 45 full segments (largest GSO message)",
    packets: flow(rxBase6(41014, { seq: 2 ** 32 - 100 }), 45),
  },
];

const rxResults: Record<string, unknown>[] = [];
let sendErrors = 0;
for (const c of rxCases) {
  const before = dp.counters();
  const expected = referenceCoalesce(c.packets);
  if (sendGso(sealRun(c.packets)) < 0) sendErrors++;
  const got: Uint8Array[] = [];
  await waitFor(() => {
    got.push(...dp.drain());
    return got.length >= expected.length;
  });
  await Bun.sleep(20);
  got.push(...dp.drain());
  const after = dp.counters();
  let exact = 0;
  for (let i = 0; i < Math.min(got.length, expected.length); i++)
    if (hex(got[i]!) === hex(expected[i]!)) exact++;
  // Independent check of each coalesced write: resegmenting it gives back the original segments.
  const resegmented = got.flatMap((w) => referenceSegment(w).map((s) => s.subarray(0)));
  const orig = c.packets.map((p) => p.subarray(0, p.length));
  let roundTrip = resegmented.length === orig.length;
  for (let i = 0; roundTrip && i < orig.length; i++) {
    const a = resegmented[i]!;
    const b = orig[i]!;
    const l3 = l3Len(b);
    // IPv4 ID of a merged segment is first + i (the inputs count up the same way) and the
    // checksums are recomputed: compare everything.
    if (hex(a.subarray(0, l3)) !== hex(b.subarray(0, l3)) || hex(a.subarray(l3)) !== hex(b.subarray(l3)))
      roundTrip = false;
  }
  rxResults.push({
    name: c.name,
    segments: c.packets.length,
    expected: expected.length,
    written: got.length,
    exact,
    expectedSizes: expected.map((e) => e.length),
    writtenSizes: got.map((e) => e.length),
    roundTrip,
    groBatches: after.rxGroBatches - before.rxGroBatches,
    coalescedWrites: after.rxCoalescedWrites - before.rxCoalescedWrites,
    rxPackets: after.rxPackets - before.rxPackets,
  });
}
libc.symbols.close(sender);
const final = dp.counters();
await dp.stop();
peer.close();
console.log(JSON.stringify({ tx: txResults, rx: rxResults, sendErrors, counters: final, VNET }));
