/**
 * Two data planes in two namespaces joined by a veth, run from a `bun build --compile` binary
 * (Worker listed as an extra entry point), carrying ping and an iperf3 TCP stream over the TUNs.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isRoot, sh } from "../../../ffi/testing/netns.ts";
import { compileNode, type Pair, startPair } from "./testing/pair.ts";

describe("two fixed-key data planes over a veth (compiled binary)", () => {
  const dir = mkdtempSync(join(tmpdir(), "veilnet-dp-test-"));
  const binary = join(dir, "fixed-key-node");
  let pair: Pair | undefined;
  let counters: Awaited<ReturnType<Pair["down"]>> = { a: null, b: null };

  beforeAll(async () => {
    expect(isRoot()).toBe(true);
    compileNode(binary);
    pair = await startPair([binary], 91);
  }, 60_000);

  afterAll(async () => {
    if (pair) counters = await pair.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it("carries ping both ways", () => {
    const p = pair!;
    const ab = sh(["ip", "netns", "exec", p.nsA, "ping", "-c", "5", "-i", "0.2", "-W", "2", p.overlayB]);
    const ba = sh(["ip", "netns", "exec", p.nsB, "ping", "-c", "5", "-i", "0.2", "-W", "2", p.overlayA]);
    expect(ab).toContain("5 received");
    expect(ba).toContain("5 received");
  });

  it("carries an iperf3 TCP stream", () => {
    const p = pair!;
    sh(["ip", "netns", "exec", p.nsB, "iperf3", "-s", "-1", "-D", "-B", p.overlayB]);
    Bun.sleepSync(300);
    const out = sh(["ip", "netns", "exec", p.nsA, "iperf3", "-c", p.overlayB, "-t", "3", "-J"]);
    const r = JSON.parse(out);
    const mbps = r.end.sum_received.bits_per_second / 1e6;
    console.log(`iperf3 through the data plane: ${mbps.toFixed(0)} Mbit/s`);
    expect(r.end.sum_received.bytes).toBeGreaterThan(1_000_000);
    expect(mbps).toBeGreaterThan(10);
  }, 30_000);

  it("stopped cleanly with no authentication failures", async () => {
    counters = await pair!.down();
    pair = undefined;
    for (const c of [counters.a, counters.b]) {
      expect(c).not.toBeNull();
      expect(c!.rxPackets).toBeGreaterThan(0);
      expect(c!.txPackets).toBeGreaterThan(0);
      expect(c!.dropRxBadTag).toBe(0);
      expect(c!.dropRxUnknownIndex).toBe(0);
      expect(c!.dropRxSpoofed).toBe(0);
    }
  }, 30_000);
});
