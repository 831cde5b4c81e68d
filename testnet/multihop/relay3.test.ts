/**
 * One-relay integrity: h1–h2–h3 in a line (UDP dropped on the control segment), so h1 and h3 share
 * no link and reach each other only over the path h1 → h2 → h3. A byte-exact TCP stream each way
 * at the same time (sha256 and length equal), and h2's native data plane must have relayed the
 * cells itself: its RX loop's relay counters cover the traffic while its path switch (JavaScript)
 * forwarded almost no DATA cell. Real nats-server, TUN, namespaces and executable.
 *
 * RELAY_BYTES sets the size per direction (default 32 MiB: the path ends are JavaScript and carry
 * ~8–15 Mbit/s each way on two shared cores, so 512 MiB takes minutes; RELAY_TIMEOUT_S raises the
 * per-direction limit for such runs).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  activePath,
  deployMultihop,
  destroyMultihop,
  hostsOf,
  isRoot,
  type MultihopNet,
  parsePing,
  routes,
  waitFor,
} from "./_multihop.ts";
import { sendStream, startSink } from "./_stream.ts";

const BYTES = Number(process.env.RELAY_BYTES ?? 33_554_432);
/** Per-direction transfer limit (RELAY_TIMEOUT_S); the path ends are JavaScript and slow. */
const TRANSFER_MS = Number(process.env.RELAY_TIMEOUT_S ?? 90) * 1000;
/** Cells carry at most ~1.4 kB of a TCP stream: a lower bound on what h2 must have relayed. */
const CELL_PAYLOAD_MAX = 1500;

let net: MultihopNet | undefined;
let failed = false;
const ip = (h: string) => net!.ips.get(h)!;

async function counters(host: string): Promise<Record<string, number>> {
  const s = await net!.demo.localStatus(host);
  return (s?.dataplane ?? {}) as Record<string, number>;
}

async function jsRelay(host: string): Promise<{ jsForwarded: number; jsForwardedData: number }> {
  return (await routes(net!, host)).relay as { jsForwarded: number; jsForwardedData: number };
}

describe.skipIf(!isRoot)("one-relay path h1 → h2 → h3: native relay integrity", () => {
  beforeAll(async () => {
    net = await deployMultihop("line", 3);
  }, 150_000);

  afterAll(async () => {
    await destroyMultihop(net, failed);
  }, 30_000);

  test(
    `${BYTES} bytes each way, byte-exact, relayed by h2's native data plane`,
    async () => {
      try {
        const demand = [
          net!.mesh.spawn("h1", ["ping", "-n", "-q", "-i", "0.2", ip("h3")], {
            stdout: "ignore",
            stderr: "ignore",
          }),
          net!.mesh.spawn("h3", ["ping", "-n", "-q", "-i", "0.2", ip("h1")], {
            stdout: "ignore",
            stderr: "ignore",
          }),
        ];
        let ms: number;
        try {
          ms = await waitFor("paths h1→h3 and h3→h1 over h2", 90_000, async () => {
            const a = await activePath(net!, "h1", "h3");
            const b = await activePath(net!, "h3", "h1");
            return hostsOf(net!, a).join(",") === "h2,h3" && hostsOf(net!, b).join(",") === "h2,h1";
          });
        } finally {
          for (const d of demand) await d.stop();
        }
        const ping = await net!.mesh.exec("h1", ["ping", "-n", "-c", "10", "-i", "0.2", ip("h3")], {
          timeoutMs: 20_000,
        });
        const rtt = /= [\d.]+\/([\d.]+)\//.exec(ping.stdout)?.[1] ?? "?";
        net!.log(
          `paths up after ${Math.round(ms)} ms; ping h1→h3 over h2: ${parsePing(ping.stdout).received}/10, avg ${rtt} ms`,
        );

        const before = { dp: await counters("h2"), js: await jsRelay("h2") };
        const sinks = [await startSink(net!, "h3", 5301), await startSink(net!, "h1", 5302)];
        const t0 = performance.now();
        const [fwd, back] = await Promise.all([
          sendStream(net!, "h1", "h3", 5301, BYTES, TRANSFER_MS),
          sendStream(net!, "h3", "h1", 5302, BYTES, TRANSFER_MS),
        ]);
        const got = await Promise.all(sinks.map((s) => s.result));
        const seconds = (performance.now() - t0) / 1000;
        for (const s of sinks) await s.proc.stop();
        const after = { dp: await counters("h2"), js: await jsRelay("h2") };
        for (const h of ["h1", "h3"]) {
          const c = await counters(h);
          net!.log(
            `${h} (path end): cells opened ${c.rxCells}, handed up ${c.rxControl}, control ring full ${c.dropRxControlRingFull}, ` +
              `unknown label ${c.dropRxCellUnknownLabel}, replay ${c.dropRxReplay}, bad tag ${c.dropRxBadTag}`,
          );
        }
        const d = (k: string) => (after.dp[k] ?? 0) - (before.dp[k] ?? 0);
        const jsData = after.js.jsForwardedData - before.js.jsForwardedData;
        const mbps = (n: number, ms?: number) => (ms ? ((n * 8) / (ms / 1000) / 1e6).toFixed(0) : "?");
        net!.log(
          `h1→h3 ${fwd.sent?.bytes} B in ${fwd.sent?.ms} ms (${mbps(BYTES, fwd.sent?.ms)} Mbit/s), ` +
            `h3→h1 ${back.sent?.bytes} B in ${back.sent?.ms} ms (${mbps(BYTES, back.sent?.ms)} Mbit/s), ` +
            `both ${seconds.toFixed(1)} s; sha256 equal: ${got[0]?.sha256 === fwd.sent?.sha256} / ${got[1]?.sha256 === back.sent?.sha256}`,
        );
        net!.log(
          `h2 native relay: rxRelayed ${d("rxRelayed")} cells (${d("rxRelayedBytes")} B) in ${d("rxRelayBatches")} batches, ` +
            `cells opened ${d("rxCells")}, drops: unknown label ${d("dropRxCellUnknownLabel")}, no out key ${d("dropRxRelayNoOutKey")}, ` +
            `send ${d("dropRxRelaySendError")}, replay ${d("dropRxReplay")}, bad tag ${d("dropRxBadTag")}; ` +
            `h2 JavaScript forwarded ${after.js.jsForwarded - before.js.jsForwarded} cells, DATA ${jsData}`,
        );
        expect(fwd.code).toBe(0);
        expect(back.code).toBe(0);
        expect(got[0]).toMatchObject({ bytes: BYTES, sha256: fwd.sent!.sha256 });
        expect(got[1]).toMatchObject({ bytes: BYTES, sha256: back.sent!.sha256 });
        // both streams crossed h2 as cells, natively: at least one cell per CELL_PAYLOAD_MAX bytes
        expect(d("rxRelayed")).toBeGreaterThan((2 * BYTES) / CELL_PAYLOAD_MAX);
        expect(jsData).toBeLessThan(d("rxRelayed") / 1000);
      } catch (e) {
        failed = true;
        for (const h of ["h1", "h2", "h3"]) {
          const r = await routes(net!, h).catch(() => null);
          net!.log(`${h} routes at failure: ${JSON.stringify(r)?.slice(0, 1500)}`);
          const c = await counters(h).catch(() => ({}));
          net!.log(`${h} data plane at failure: ${JSON.stringify(c)}`);
        }
        throw e;
      }
    },
    210_000 + TRANSFER_MS,
  );
});
