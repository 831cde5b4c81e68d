/** Hostile input against the native RX path (plain and offload TUN): no crash, every datagram counted. */
import { afterAll, describe, expect, it } from "bun:test";
import { BUN, createNamespaces, isRoot, runPrefix, sh } from "../../../ffi/testing/netns.ts";

for (const mode of ["plain", "offload"] as const) {
  describe(`data plane under hostile input (netns, ${mode} TUN)`, () => {
    let cleanup = () => {};
    afterAll(() => cleanup());

    it("keeps running and accounts for every datagram under exactly one counter", () => {
      expect(isRoot()).toBe(true);
      const ns = runPrefix("vfz");
      cleanup = createNamespaces([ns]);
      const fixture = new URL("./testing/fuzz.fixture.ts", import.meta.url).pathname;
      const args = mode === "offload" ? ["--offload"] : [];
      const out = sh(["timeout", "60", "ip", "netns", "exec", ns, BUN, fixture, ...args]);
      const r = JSON.parse(out.trim().split("\n").pop()!);
      expect(r.sent).toBe(5000);
      expect(r.outcomes).toBe(r.sent);
      expect(r.status.tx).toBe("running");
      expect(r.status.rx).toBe("running");
      expect(r.counters.rxRecvErrors).toBe(0);
      // Every class of input was seen.
      for (const k of [
        "rxPackets",
        "rxControl",
        "dropRxShort",
        "dropRxBadTag",
        "dropRxReplay",
        "dropRxMalformedInner",
      ]) {
        expect(r.counters[k]).toBeGreaterThan(0);
      }
      if (mode === "offload") expect(r.counters.rxCoalescedWrites).toBeGreaterThan(0);
    }, 60_000);
  });
}
