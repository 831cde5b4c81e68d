/**
 * line5 + control segment (UDP dropped there): h1–h2–h3–h4–h5, so h1 reaches h5 only over the
 * single 4-hop path h2,h3,h4,h5 — every relay extends the build one hop further. Real nats-server,
 * TUN, namespaces and executable. Every measured number is printed (`[multihop …]` lines).
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
  waitFor,
} from "./_multihop.ts";

let net: MultihopNet | undefined;
let failed = false;
const ip = (h: string) => net!.ips.get(h)!;

describe.skipIf(!isRoot)("multi-hop routing on line5 + control segment", () => {
  beforeAll(async () => {
    net = await deployMultihop("line", 5);
  }, 120_000);

  afterAll(async () => {
    await destroyMultihop(net, failed);
  }, 30_000);

  test("h1 reaches h5 over the 4-hop path h2,h3,h4,h5", async () => {
    try {
      // demand from h1 (a slow ping) while the path is built hop by hop
      const demand = net!.mesh.spawn("h1", ["ping", "-n", "-q", "-i", "0.2", ip("h5")], {
        stdout: "ignore",
        stderr: "ignore",
      });
      let ms: number;
      try {
        ms = await waitFor("h1→h5 4-hop path", 60_000, async () => {
          const p = await activePath(net!, "h1", "h5");
          return p !== null && hostsOf(net!, p).join(",") === "h2,h3,h4,h5";
        });
      } finally {
        await demand.stop();
      }
      const r = await net!.mesh.exec("h1", ["ping", "-n", "-c", "10", "-i", "0.2", ip("h5")], {
        timeoutMs: 20_000,
      });
      const p = parsePing(r.stdout);
      const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1] ?? "?";
      net!.log(
        `first path h1→h5 after ${Math.round(ms)} ms; ping 10: ${p.received}/10 received, avg rtt ${rtt} ms`,
      );
      expect(p.received).toBeGreaterThanOrEqual(9);
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 90_000);
});
