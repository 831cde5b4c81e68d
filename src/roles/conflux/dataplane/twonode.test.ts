/**
 * Two data planes in two namespaces joined by a veth, run from a `bun build --compile` binary
 * (Worker listed as an extra entry point), carrying ping, an iperf3 TCP stream and a byte-exact
 * TCP transfer over the TUNs — with a plain TUN and with segmentation offload.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, isRoot, sh } from "../../../ffi/testing/netns.ts";
import { compileNode, type Pair, startPair } from "./testing/pair.ts";

const dir = mkdtempSync(join(tmpdir(), "veilnet-dp-test-"));
const binary = join(dir, "fixed-key-node");
const shaFixture = new URL("./testing/tcp-sha.fixture.ts", import.meta.url).pathname;

beforeAll(() => {
  expect(isRoot()).toBe(true);
  compileNode(binary);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FLAGS: Record<string, string[] | { a: string[]; b: string[] }> = {
  plain: [],
  offload: ["--offload"],
  // A offloads, B does not: A's split segments must carry correct TCP checksums for B's kernel,
  // and B's plain segments must coalesce at A.
  mixed: { a: ["--offload"], b: [] },
};

for (const [mode, subnet] of [
  ["plain", 91],
  ["offload", 92],
  ["mixed", 93],
] as const) {
  describe(`two fixed-key data planes over a veth (compiled binary, ${mode} TUN)`, () => {
    let pair: Pair | undefined;
    beforeAll(async () => {
      pair = await startPair([binary], subnet, 1420, FLAGS[mode]);
    }, 60_000);
    afterAll(async () => {
      await pair?.down();
    });

    it("carries ping both ways", () => {
      const p = pair!;
      const ab = sh(["ip", "netns", "exec", p.nsA, "ping", "-c", "5", "-i", "0.2", "-W", "2", p.overlayB]);
      const ba = sh(["ip", "netns", "exec", p.nsB, "ping", "-c", "5", "-i", "0.2", "-W", "2", p.overlayA]);
      const ab6 = sh(["ip", "netns", "exec", p.nsA, "ping", "-c", "3", "-i", "0.2", "-W", "2", p.overlay6B]);
      expect(ab).toContain("5 received");
      expect(ba).toContain("5 received");
      expect(ab6).toContain("3 received");
    });

    it("carries an iperf3 TCP stream", () => {
      const p = pair!;
      sh(["ip", "netns", "exec", p.nsB, "iperf3", "-s", "-1", "-D", "-B", p.overlayB]);
      Bun.sleepSync(300);
      const r = JSON.parse(sh(["ip", "netns", "exec", p.nsA, "iperf3", "-c", p.overlayB, "-t", "3", "-J"]));
      const mbps = r.end.sum_received.bits_per_second / 1e6;
      console.log(`iperf3 through the data plane (${mode}): ${mbps.toFixed(0)} Mbit/s`);
      expect(r.end.sum_received.bytes).toBeGreaterThan(1_000_000);
      expect(mbps).toBeGreaterThan(10);
    }, 30_000);

    for (const family of [4, 6] as const) {
      it(`moves 64 MiB of TCP over IPv${family} byte-exactly`, async () => {
        const p = pair!;
        const [nsA, dst] = [p.nsA, family === 4 ? p.overlayB : p.overlay6B];
        const port = String(5300 + family);
        const server = Bun.spawn(["ip", "netns", "exec", p.nsB, BUN, shaFixture, "serve", dst, port], {
          stdout: "pipe",
        });
        try {
          await Bun.sleep(700);
          const sent = sh([
            "timeout",
            "60",
            "ip",
            "netns",
            "exec",
            nsA,
            BUN,
            shaFixture,
            "send",
            dst,
            port,
            "64",
          ]);
          const got = await Promise.race([
            new Response(server.stdout).text(),
            Bun.sleep(20_000).then(() => ""),
          ]);
          const line = (t: string) => t.split("\n").find((l) => l.startsWith("sha256 "));
          expect(line(sent)).toBeDefined();
          expect(line(got)).toBe(line(sent)!);
          expect(line(sent)).toEndWith(` ${64 * 1024 * 1024}`);
        } finally {
          server.kill("SIGKILL");
        }
      }, 60_000);
    }

    it("stops cleanly with no authentication failures", async () => {
      const counters = await pair!.down();
      pair = undefined;
      for (const c of [counters.a, counters.b]) {
        expect(c).not.toBeNull();
        expect(c!.rxPackets).toBeGreaterThan(0);
        expect(c!.txPackets).toBeGreaterThan(0);
        expect(c!.dropRxBadTag).toBe(0);
        expect(c!.dropRxUnknownIndex).toBe(0);
        expect(c!.dropRxSpoofed).toBe(0);
        expect(c!.dropRxReplay).toBe(0); // a repeated counter (nonce) anywhere on the TX path shows here
        expect(c!.dropTxMalformed).toBe(0);
      }
      if (mode !== "plain") expect(counters.a!.txTsoReads).toBeGreaterThan(0);
      if (mode === "offload") expect(counters.b!.rxCoalescedWrites).toBeGreaterThan(0);
      if (mode === "mixed") expect(counters.b!.txTsoReads).toBe(0);
    }, 30_000);
  });
}
