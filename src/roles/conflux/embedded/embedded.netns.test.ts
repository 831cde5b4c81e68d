/**
 * Embedded mode end to end in network namespaces: Master + Guardian on `control`, a TUN-mode node
 * on `t1`, and on `e1` an embedded node (`veilnet proxy`) running as the unprivileged user nobody.
 * The embedded node fetches a page from t1's ordinary HTTP server, serves a port that t1 reaches
 * with curl, and carries 100 MB to a sink on t1 across a link with 2 % loss per direction.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { waitFor } from "../../../../testnet/demo/demo-mesh.ts";
import { FailureGuard } from "../../../../testnet/e2e/_tools.ts";
import {
  asNobody,
  BUN,
  deployEmbedded,
  EMBEDDED_HOST,
  type EmbeddedDeployment,
  NOBODY,
  procInfo,
  readText,
  TOOLS,
} from "./testing/embedded-deployment.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("embedded netns test SKIPPED: needs root (network namespaces, TUN on t1)");
const report = (line: string) => console.log(`[embedded e2e] ${line}`);
const BULK_BYTES = 100 * 1024 * 1024;

describe.skipIf(!isRoot)("embedded node (no TUN, no root) in a mesh with a TUN node", () => {
  let d: EmbeddedDeployment;
  const run = new FailureGuard();
  let t1Ip = "";
  const guard = <T>(fn: () => Promise<T>) => run.guard(fn);

  beforeAll(
    guard(async () => {
      d = await deployEmbedded({
        tunHosts: ["t1"],
        proxyArgs: (ips) => [
          `18080=${ips.get("t1")}:8000`,
          `18081=${ips.get("t1")}:9100`,
          "--expose",
          "8080=127.0.0.1:8001",
        ],
      });
      t1Ip = d.ips.get("t1")!;
      const logs = join(d.stateDir, "..");
      const serve = (host: string, argv: string[], name: string) => {
        const log = join(logs, `${name}.log`);
        d.mesh.spawn(host, argv, {
          logFile: log,
          env: { HOME: logs, BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
        });
        return waitFor(`${name} to listen`, 20_000, async () => readText(log).includes("ready"));
      };
      await Promise.all([
        serve("t1", [BUN, TOOLS, "http", "8000", "hello from a TUN node"], "t1-http"),
        serve("t1", [BUN, TOOLS, "sink", "9100"], "t1-sink"),
        serve(
          EMBEDDED_HOST,
          asNobody([...d.tools, "http", "8001", "hello from an embedded node"]),
          "e1-http",
        ),
      ]);
      report(`embedded node ${d.embeddedIp}, TUN node t1 ${t1Ip}`);
    }),
    240_000,
  );
  afterAll(async () => {
    await d?.destroy(run.failed);
  }, 60_000);

  test(
    "the embedded node runs as nobody",
    guard(async () => {
      expect(procInfo(d.proxy.pid).uid).toBe(NOBODY);
    }),
  );

  test(
    "it fetches a page from the TUN node's HTTP server",
    guard(async () => {
      let body = "";
      const ms = await waitFor("a page through the embedded proxy", 30_000, async () => {
        const r = await d.mesh.exec(
          EMBEDDED_HOST,
          asNobody(["curl", "-s", "-m", "5", "http://127.0.0.1:18080/"]),
        );
        body = r.stdout;
        return r.code === 0;
      });
      report(`first page through the embedded node after ${(ms / 1000).toFixed(1)} s`);
      expect(body).toBe("hello from a TUN node");
    }),
    40_000,
  );

  test(
    "the TUN node reaches a port the embedded node serves",
    guard(async () => {
      let body = "";
      await waitFor("curl from t1 to the embedded node", 20_000, async () => {
        const r = await d.mesh.exec("t1", ["curl", "-s", "-m", "5", `http://${d.embeddedIp}:8080/`]);
        body = r.stdout;
        return r.code === 0;
      });
      expect(body).toBe("hello from an embedded node");
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) {
        const r = await d.mesh.exec("t1", ["curl", "-s", "-m", "5", `http://${d.embeddedIp}:8080/x${i}`]);
        expect(r.stdout).toBe("hello from an embedded node");
      }
      report(`5 curls from t1 to the embedded node: ${((performance.now() - t0) / 5).toFixed(0)} ms each`);
    }),
    30_000,
  );

  test(
    "100 MB across 2 % loss arrive intact with bounded memory",
    guard(async () => {
      await d.mesh.link(EMBEDDED_HOST, "lan").loss(2);
      const rssBefore = procInfo(d.proxy.pid).rssKiB;
      let rssMax = rssBefore;
      const sampler = setInterval(() => {
        try {
          rssMax = Math.max(rssMax, procInfo(d.proxy.pid).rssKiB);
        } catch {}
      }, 200);
      let r: Awaited<ReturnType<typeof d.mesh.exec>>;
      try {
        r = await d.mesh.exec(
          EMBEDDED_HOST,
          asNobody([...d.tools, "send", "127.0.0.1", "18081", String(BULK_BYTES)]),
          {
            timeoutMs: 150_000,
            env: { HOME: join(d.stateDir, ".."), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
          },
        );
      } finally {
        clearInterval(sampler);
        await d.mesh.link(EMBEDDED_HOST, "lan").clear();
      }
      const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as {
        bytes: number;
        sha256: string;
        answer: string;
        seconds: number;
      };
      const [n, digest] = out.answer.split(" ");
      const mbps = (out.bytes * 8) / out.seconds / 1e6;
      report(
        `100 MB over 2 % loss: ${out.seconds.toFixed(1)} s, ${mbps.toFixed(1)} Mbit/s; ` +
          `proxy RSS ${(rssBefore / 1024).toFixed(0)} MiB before, max ${(rssMax / 1024).toFixed(0)} MiB during`,
      );
      expect(Number(n)).toBe(BULK_BYTES);
      expect(digest).toBe(out.sha256);
      expect(out.sha256).toBe(expectedDigest(BULK_BYTES));
      expect(rssMax - rssBefore).toBeLessThan(64 * 1024); // < 64 MiB growth for a 100 MB transfer
    }),
    180_000,
  );
});

/** The sender's stream is deterministic: recompute its digest here independently of both ends. */
function expectedDigest(total: number): string {
  const h = createHash("sha256");
  const b = new Uint8Array(65536);
  for (let i = 0, sent = 0; sent < total; i++) {
    let x = (i * 2654435761 + 1) >>> 0;
    for (let k = 0; k < b.length; k += 4) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      b[k] = x & 0xff;
      b[k + 1] = (x >>> 8) & 0xff;
      b[k + 2] = (x >>> 16) & 0xff;
      b[k + 3] = x >>> 24;
    }
    const n = Math.min(65536, total - sent);
    h.update(b.subarray(0, n));
    sent += n;
  }
  return h.digest("hex");
}
