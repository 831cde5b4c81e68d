/**
 * One native data plane on a real TUN in a fresh network namespace, its peer a plain socket that
 * seals/opens with the node:crypto reference (testing/loopback.fixture.ts does the traffic).
 */
import { afterAll, describe, expect, it } from "bun:test";
import { BUN, createNamespaces, isRoot, runPrefix, sh } from "../../../ffi/testing/netns.ts";

for (const mode of ["plain", "offload"] as const)
  describe(`data plane against a reference peer (netns, ${mode} TUN)`, () => {
    const ns = runPrefix("vdpl");
    let cleanup = () => {};
    afterAll(() => cleanup());
    // biome-ignore lint/suspicious/noExplicitAny: the fixture's JSON report, checked field by field
    let r: Record<string, any>;

    it("runs the fixture", () => {
      expect(isRoot()).toBe(true);
      cleanup = createNamespaces([ns]);
      const fixture = new URL("./testing/loopback.fixture.ts", import.meta.url).pathname;
      const args = mode === "offload" ? ["--offload"] : [];
      const out = sh(["timeout", "60", "ip", "netns", "exec", ns, BUN, fixture, ...args]);
      r = JSON.parse(out.trim().split("\n").pop()!);
    }, 60_000);

    it("seals byte-identically to the reference, with strictly increasing unique counters", () => {
      expect(r.afterBurst.txPackets).toBe(r.burst);
      // The peer's plain socket may drop part of a burst; every datagram it did get must match.
      expect(r.txReceived).toBeGreaterThanOrEqual(r.burst * 0.6);
      expect(r.sealsMatch).toBe(r.txReceived);
      expect(r.payloadsSeen).toBe(r.txReceived);
      expect(r.udpChecksumsOk).toBe(r.txReceived); // offload: completed from virtio_net_hdr
      expect(r.uniqueCounters).toBe(r.txReceived);
      expect(r.strictlyIncreasing).toBe(true);
      expect(r.firstCounter).toBe(0);
      // The burst was batched: fewer sendmmsg calls than packets.
      expect(r.afterBurst.txBatches).toBeLessThan(r.afterBurst.txPackets / 4);
    });

    it("detects the TUN's vnet header and refuses a contradicting offload option", () => {
      expect(r.mismatch).toBe("DP_OFFLOAD_MISMATCH");
    });

    it("reports both native loops running, then stopped", () => {
      expect(r.running).toEqual({ tx: "running", rx: "running", txErrno: 0, rxErrno: 0 });
      expect(r.stopped).toEqual({ tx: "stopped", rx: "stopped", txErrno: 0, rxErrno: 0 });
    });

    it("delivers authenticated packets to the TUN", () => {
      expect(r.delivered.slice(0, 5)).toEqual(["hello 0", "hello 1", "hello 2", "hello 3", "hello 4"]);
      expect(r.base.rxPackets).toBe(5);
    });

    it("counts and drops every kind of bad datagram", () => {
      const d = (k: string) => r.drops[k] - r.base[k];
      expect(d("dropRxReplay")).toBe(1);
      expect(d("dropRxBadTag")).toBe(1);
      expect(d("dropRxUnknownIndex")).toBe(1);
      expect(d("dropRxShort")).toBe(2); // 7-byte transport + empty datagram
      expect(d("dropRxMalformedHeader")).toBe(1);
      expect(d("dropRxSpoofed")).toBe(1);
      expect(d("dropRxMalformedInner")).toBe(1);
      expect(d("rxKeepalives")).toBe(1);
      expect(d("rxPackets")).toBe(0);
      expect(r.delivered).not.toContain("replayed");
      expect(r.delivered).not.toContain("spoofed");
      expect(r.delivered).not.toContain("tampered");
    });

    it("hands non-transport datagrams to the main thread and sends control datagrams out", () => {
      expect(r.control).toEqual([{ data: "01deadbeef", port: r.stats.lastRxEndpoint.port }]);
      expect(r.ctrlOut).toBe(true);
      expect(r.misc).toContainEqual({ type: 2, len: 4, keepaliveOpens: false });
    });

    it("answers ICMP and ICMPv6 echo through RX → kernel → TX", () => {
      expect(r.echoes).toContainEqual({ family: 4, type: 0, id: 77, ok: true });
      expect(r.echoes).toContainEqual({ family: 6, type: 129, id: 78, ok: true });
    });

    it("routes by longest prefix to several peers and stops routing to a removed one", () => {
      expect(r.routed.peer2).toEqual(["to peer two"]);
      expect(r.routed.peer1).toEqual(["to peer one"]);
      // After removal the /25 route is gone, so .200 falls to the /24 route of peer 0.
      expect(r.removal.peer2Got).toBe(0);
      expect(r.removal.peer1).toEqual(["after removal"]);
    });

    it("sends keepalives and rekeys without losing the previous receive key", () => {
      expect(r.misc).toContainEqual({ type: 4, len: 32, keepaliveOpens: true });
      expect(r.delivered).toContain("old key");
      expect(r.delivered).toContain("new key");
      expect(r.afterRekey).toEqual([{ receiver: 0x11223345, counter: 0 }]);
      expect(r.reuseRefused).toBe(true);
      expect(r.stats.lastRxKey).toBe("current");
    });
  });
