/**
 * The native segmenter (TX: virtio_net_hdr TSO super-packet → sealed segments) and coalescer
 * (RX: sealed segments → one GSO TUN write per run), byte for byte against the TypeScript
 * reference in testing/tcp-offload-reference.ts. The native loops run for real (Workers, UDP
 * GSO/GRO on loopback) in a fresh namespace; their "TUN" is a socketpair so the test chooses
 * every byte of every TUN read, bogus header fields included (testing/offload-segmenter.fixture.ts).
 */
import { afterAll, describe, expect, it } from "bun:test";
import { BUN, createNamespaces, isRoot, runPrefix, sh } from "../../../ffi/testing/netns.ts";

// biome-ignore lint/suspicious/noExplicitAny: the fixture's JSON report, checked field by field
type Report = Record<string, any>;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const CWR = 0x80;

describe("segmentation offload: native split and coalesce vs the reference (netns)", () => {
  const ns = runPrefix("vdps");
  let cleanup = () => {};
  afterAll(() => cleanup());
  let r: Report;
  const tx = (name: string): Report => r.tx.find((c: Report) => c.name.startsWith(name));
  const rx = (name: string): Report => r.rx.find((c: Report) => c.name.startsWith(name));

  it("runs the fixture", () => {
    expect(isRoot()).toBe(true);
    cleanup = createNamespaces([ns]);
    const fixture = new URL("./testing/offload-segmenter.fixture.ts", import.meta.url).pathname;
    const out = sh(["timeout", "60", "ip", "netns", "exec", ns, BUN, fixture]);
    r = JSON.parse(out.trim().split("\n").pop()!);
    expect(r.sendErrors).toBe(0);
  }, 70_000);

  it("splits every super-packet exactly like the reference, with valid IP and TCP checksums", () => {
    for (const c of r.tx.filter((c: Report) => !c.name.startsWith("malformed"))) {
      expect({ name: c.name, received: c.received, exact: c.exact, checksums: c.checksumsOk }).toEqual({
        name: c.name,
        received: c.expected,
        exact: c.expected,
        checksums: c.expected,
      });
      expect(c.countersConsecutive).toBe(true);
    }
  });

  it("wraps the sequence number across 2^32 and the IPv4 ID across 2^16", () => {
    const c = tx("v4 seq wrap");
    expect(c.seqs.slice(0, 4)).toEqual([
      2 ** 32 - 3000,
      2 ** 32 - 3000 + 1368,
      (2 ** 32 - 3000 + 2 * 1368) % 2 ** 32,
      1104,
    ]);
    expect(c.ids.slice(0, 5)).toEqual([0xfffd, 0xfffe, 0xffff, 0, 1]);
    const c6 = tx("v6 seq wrap");
    expect(c6.seqs[2]).toBe(2 ** 32 - 5);
    expect(c6.seqs[3]).toBe(1343);
    expect(tx("v4 with IP options").ids).toEqual(Array.from({ length: 47 }, (_, i) => 100 + i));
  });

  it("puts CWR only on the first segment and FIN/PSH only on the last (IPv4 and IPv6)", () => {
    for (const name of ["v4 seq wrap", "v6 seq wrap"]) {
      const f: number[] = tx(name).flags;
      expect(f[0]).toBe(ACK | CWR);
      for (const x of f.slice(1, -1)) expect(x).toBe(ACK);
      expect(f[f.length - 1]).toBe(ACK | PSH | FIN);
    }
  });

  it("ignores the virtio header's hdr_len (7, 0xffff, 0, 60 all split by csum_start + doff·4)", () => {
    for (const name of ["v4 seq wrap", "v6 seq wrap", "v4 with IP options", "v6 large"]) {
      expect(tx(name).exact).toBe(tx(name).expected);
    }
  });

  it("sends a split super-packet as UDP GSO messages of at most 65,000 bytes", () => {
    expect(tx("v4 seq wrap").gsoMessages).toBe(1);
    expect(tx("v4 with IP options").gsoMessages).toBe(2); // 47 × 1,452 sealed bytes
    expect(tx("v6 large").gsoMessages).toBe(2);
    expect(tx("no GSO").tsoReads).toBe(0);
  });

  it("drops malformed super-packets and counts each once", () => {
    for (const c of r.tx.filter((c: Report) => c.name.startsWith("malformed"))) {
      expect({ name: c.name, received: c.received, malformed: c.malformed }).toEqual({
        name: c.name,
        received: 0,
        malformed: 1,
      });
    }
  });

  it("coalesces every GRO batch exactly like the reference, and each write resegments to its inputs", () => {
    for (const c of r.rx) {
      expect({
        name: c.name,
        written: c.written,
        exact: c.exact,
        roundTrip: c.roundTrip,
        gro: c.groBatches,
      }).toEqual({ name: c.name, written: c.expected, exact: c.expected, roundTrip: true, gro: 1 });
      expect(c.rxPackets).toBe(c.segments);
    }
  });

  it("coalesces across the 2^32 sequence wrap, in IPv4 and IPv6", () => {
    expect(rx("v4 run of 10").coalescedWrites).toBe(1);
    expect(rx("v4 run of 10").written).toBe(1);
    expect(rx("v6 run of 8").written).toBe(1);
    expect(rx("v6 45 full").written).toBe(1);
  });

  it("breaks runs where the kernel's GRO would (PSH, short, ack, window, options, gap, TTL/TOS, IP id, flags, 64 segments)", () => {
    expect(rx("v4 PSH in the middle").writtenSizes.length).toBe(2);
    expect(rx("v4 shorter segment").writtenSizes.length).toBe(2);
    expect(rx("v4 ack changes").writtenSizes.length).toBe(2);
    expect(rx("v4 timestamp option changes").writtenSizes.length).toBe(2);
    expect(rx("v4 sequence gap").writtenSizes.length).toBe(2);
    expect(rx("v4 TTL and TOS").writtenSizes.length).toBe(5);
    expect(rx("v4 with IP options").coalescedWrites).toBe(0);
    expect(rx("v4 fragment").coalescedWrites).toBe(0);
    expect(rx("v4 FIN, SYN and CWR").writtenSizes.length).toBe(7);
    expect(rx("v4 window changes").writtenSizes.length).toBe(2);
    expect(rx("v4 IP id jumps").writtenSizes.length).toBe(2);
    expect(rx("v4 fixed IP id").writtenSizes.length).toBe(8);
    expect(rx("v4 fixed IP id").coalescedWrites).toBe(0);
    expect(rx("v4 72 small").writtenSizes).toEqual([10 + 52 + 64 * 100, 10 + 52 + 8 * 100]);
  });

  it("counts no drops on valid input", () => {
    const k = r.counters;
    for (const name of [
      "dropRxBadTag",
      "dropRxMalformedInner",
      "dropRxTunWriteError",
      "dropTxSendError",
      "txGsoFallbacks",
    ])
      expect(k[name]).toBe(0);
    expect(k.dropTxMalformed).toBe(3);
  });
});
