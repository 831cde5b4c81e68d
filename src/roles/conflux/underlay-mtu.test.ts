/**
 * The overlay MTU follows the underlay: over a 1400-byte veth the nodes pick 1320, a ping of the
 * full inner MTU with DF passes, one byte more is refused, and no datagram is fragmented or
 * refused on the underlay, also with segmentation offload under a TCP stream. A node that ignores
 * the underlay (1420 over the same veth) fragments: the control that makes the zero mean something.
 */
import { describe, expect, test } from "bun:test";
import { BUN, isRoot, sh } from "../../ffi/testing/netns.ts";
import { MTU_MAX, MTU_MIN } from "./config.ts";
import { type Pair, startPair } from "./dataplane/testing/pair.ts";
import { ANCHOR_OUTER_OVERHEAD, innerMtuFor, underlayLink } from "./underlay-mtu.ts";

const NODE = [BUN, `${import.meta.dir}/dataplane/fixed-key-node.ts`];
const UNDERLAY = 1400;

describe("inner MTU from the underlay", () => {
  test("1500 → 1420, jumbo 9000 → 8920, clamped to the IPv6 minimum and the data plane maximum", () => {
    expect(ANCHOR_OUTER_OVERHEAD).toBe(80);
    expect(innerMtuFor(1500, MTU_MIN, MTU_MAX)).toBe(1420);
    expect(innerMtuFor(9000, MTU_MIN, MTU_MAX)).toBe(8920);
    expect(innerMtuFor(1300, MTU_MIN, MTU_MAX)).toBe(MTU_MIN);
    expect(innerMtuFor(65535, MTU_MIN, MTU_MAX)).toBe(MTU_MAX);
  });

  test("the underlay link of this namespace has a sane MTU", () => {
    const link = underlayLink();
    expect(link.mtu).toBeGreaterThanOrEqual(68);
    expect(link.mtu).toBeLessThanOrEqual(65535);
  });
});

const nstat = (ns: string, name: string): number => {
  const out = sh(["ip", "netns", "exec", ns, "nstat", "-az", name]);
  return Number(new RegExp(`${name}\\s+(\\d+)`).exec(out)?.[1] ?? Number.NaN);
};
const ping = (p: Pair, size: number) =>
  Bun.spawnSync([
    "ip",
    "netns",
    "exec",
    p.nsA,
    "ping",
    "-M",
    "do",
    "-c",
    "3",
    "-i",
    "0.2",
    "-W",
    "2",
    "-s",
    String(size),
    p.overlayB,
  ]);

describe.skipIf(!isRoot)(`nodes over a ${UNDERLAY}-byte underlay (netns)`, () => {
  for (const mode of ["plain", "offload"] as const) {
    test(`derive ${UNDERLAY - 80}; full-size DF ping passes, one byte more is refused; nothing fragments (${mode})`, async () => {
      const p = await startPair(
        NODE,
        mode === "plain" ? 231 : 232,
        "auto",
        mode === "offload" ? ["--offload"] : [],
        UNDERLAY,
      );
      try {
        const inner = UNDERLAY - ANCHOR_OUTER_OVERHEAD;
        for (const [ns, dev] of [
          [p.nsA, "vta0"],
          [p.nsB, "vtb0"],
        ] as const) {
          expect(Number(sh(["ip", "netns", "exec", ns, "cat", `/sys/class/net/${dev}/mtu`]).trim())).toBe(
            inner,
          );
        }
        const frags0 = nstat(p.nsA, "IpFragCreates") + nstat(p.nsB, "IpFragCreates");
        const full = ping(p, inner - 28);
        const over = ping(p, inner - 27);
        expect(full.exitCode).toBe(0);
        expect(over.exitCode).not.toBe(0);
        expect(`${over.stdout}${over.stderr}`).toMatch(/message too long|mtu/i);
        if (mode === "offload") {
          sh(["ip", "netns", "exec", p.nsB, "iperf3", "-s", "-1", "-D", "-B", p.overlayB]);
          await Bun.sleep(300);
          const r = JSON.parse(
            sh(["ip", "netns", "exec", p.nsA, "iperf3", "-c", p.overlayB, "-t", "2", "-J"]),
          );
          console.log(
            `[mtu] offload over a ${UNDERLAY}-byte underlay: ${(r.end.sum_received.bits_per_second / 1e6).toFixed(0)} Mbit/s`,
          );
          expect(r.end.sum_received.bytes).toBeGreaterThan(0);
        }
        const frags = nstat(p.nsA, "IpFragCreates") + nstat(p.nsB, "IpFragCreates") - frags0;
        const counters = await p.down();
        console.log(
          `[mtu] ${mode}: inner ${inner}, fragments created ${frags}, tx send errors a ${counters.a?.dropTxSendError} b ${counters.b?.dropTxSendError}`,
        );
        expect(frags).toBe(0);
        expect(counters.a?.dropTxSendError ?? -1).toBe(0);
        expect(counters.b?.dropTxSendError ?? -1).toBe(0);
      } catch (e) {
        await p.down();
        throw e;
      }
    }, 60_000);
  }

  test("control: a node that ignores the underlay (1420 over 1400) sends datagrams that must fragment", async () => {
    const p = await startPair(NODE, 233, 1420, [], UNDERLAY);
    try {
      const frags0 = nstat(p.nsA, "IpFragCreates");
      const r = ping(p, 1420 - 28);
      const frags = nstat(p.nsA, "IpFragCreates") - frags0;
      const counters = await p.down();
      console.log(
        `[mtu] control: ping exit ${r.exitCode}, fragments ${frags}, tx send errors ${counters.a?.dropTxSendError}`,
      );
      expect(frags + (counters.a?.dropTxSendError ?? 0)).toBeGreaterThan(0);
    } catch (e) {
      await p.down();
      throw e;
    }
  }, 60_000);
});
