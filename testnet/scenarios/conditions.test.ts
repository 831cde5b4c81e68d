/**
 * Link conditions on a real pair of namespaces: down/up, loss, rate and delay. Timings on a
 * shared two-core machine are noisy, so bounds are generous where the noise lives (scheduling)
 * and tight where it does not (statistics of 200+ samples).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Mesh } from "../mesh.ts";
import { isRoot, waitForLine } from "./_root.ts";

const UDP = join(import.meta.dir, "_udp.ts");
const BUN = process.execPath;
setDefaultTimeout(30_000);

function pingStats(out: string): { sent: number; received: number; avgMs: number } {
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(out);
  return { sent: Number(counts?.[1]), received: Number(counts?.[2]), avgMs: Number(rtt?.[1] ?? Number.NaN) };
}

describe.skipIf(!isRoot)("link conditions (pair)", () => {
  let net: Mesh;
  let h2: string;
  beforeAll(async () => {
    net = await Mesh.up({ topology: "pair" });
    h2 = net.addressOf("h2", "h1");
  });
  afterAll(async () => {
    await net?.destroy();
  });

  test("down cuts the link, up restores it", async () => {
    const link = net.link("h1", "h2");
    await link.down();
    expect(link.condition()).toEqual({ down: true });
    expect((await net.exec("h1", ["ping", "-c1", "-W1", h2])).code).not.toBe(0);
    await link.up();
    expect((await net.exec("h1", ["ping", "-c1", "-W1", h2])).code).toBe(0);
    expect(link.condition()).toEqual({});
  });

  test("loss 30: ~30% per direction (one-way UDP), ~51% of 200 pings round trip", async () => {
    const link = net.link("h1", "h2");
    await link.loss(30);
    const rx = net.spawn("h2", [BUN, UDP, "recv", "9000", "2500"]);
    await waitForLine(rx.stdout, "ready");
    const [pings] = await Promise.all([
      net.exec("h1", ["ping", "-q", "-c200", "-i0.01", "-W1", h2]),
      net.exec("h1", [BUN, UDP, "send", h2, "9000", "400"]),
    ]);
    const received = Number(/received (\d+)/.exec(await waitForLine(rx.stdout, "received", 6000))?.[1]);
    const oneWayLoss = 1 - received / 400;
    const p = pingStats(pings.stdout);
    const rttLoss = 1 - p.received / p.sent;
    console.log(
      `loss 30%: one-way ${(oneWayLoss * 100).toFixed(1)}% (400 datagrams), round trip ${(rttLoss * 100).toFixed(1)}% (${p.sent} pings)`,
    );
    // Binomial, 400 samples: sd 2.3 points → ±10 points is > 4 sd.
    expect(oneWayLoss).toBeGreaterThan(0.2);
    expect(oneWayLoss).toBeLessThan(0.4);
    // Round trip 1-(0.7)^2 = 0.51, 200 samples: sd 3.5 points → ±15 points.
    expect(p.sent).toBe(200);
    expect(rttLoss).toBeGreaterThan(0.36);
    expect(rttLoss).toBeLessThan(0.66);
    await link.clear();
    const clean = pingStats((await net.exec("h1", ["ping", "-q", "-c50", "-i0.01", "-W1", h2])).stdout);
    expect(clean.received).toBe(50);
  });

  test("rate 20 bounds iperf3 throughput", async () => {
    const iperf = async (seconds: number): Promise<number> => {
      const server = net.spawn("h2", ["iperf3", "-s", "-1", "--forceflush", "-p", "5211"]);
      await waitForLine(server.stdout, "Server listening");
      const r = await net.exec("h1", ["iperf3", "-c", h2, "-p", "5211", "-t", String(seconds), "-J"], {
        timeoutMs: 15_000,
      });
      await server.stop();
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e6;
    };
    const unshaped = await iperf(1);
    const link = net.link("h1", "h2");
    await link.rate(20);
    const shaped = await iperf(3);
    console.log(`rate 20: iperf3 ${shaped.toFixed(1)} Mbit/s (unshaped ${unshaped.toFixed(0)} Mbit/s)`);
    expect(unshaped).toBeGreaterThan(100);
    expect(shaped).toBeLessThan(20 * 1.1);
    expect(shaped).toBeGreaterThan(20 * 0.5);
    await link.clear();
  });

  test("delay 50 adds ≈50 ms of round-trip time", async () => {
    const link = net.link("h1", "h2");
    const ping = async () =>
      pingStats((await net.exec("h1", ["ping", "-q", "-c20", "-i0.05", "-W2", h2])).stdout);
    const base = await ping();
    await link.delay(50);
    const delayed = await ping();
    const added = delayed.avgMs - base.avgMs;
    console.log(
      `delay 50: rtt ${base.avgMs.toFixed(2)} → ${delayed.avgMs.toFixed(2)} ms (+${added.toFixed(1)})`,
    );
    expect(delayed.received).toBe(20);
    expect(added).toBeGreaterThan(50 - 15);
    expect(added).toBeLessThan(50 + 15);
    // The other direction sees the same added round trip.
    const back = pingStats(
      (await net.exec("h2", ["ping", "-q", "-c10", "-i0.05", "-W2", net.addressOf("h1", "h2")])).stdout,
    );
    expect(back.avgMs).toBeGreaterThan(35);
    await link.clear();
    const after = await ping();
    expect(after.avgMs).toBeLessThan(5);
  });
});
