/**
 * End to end in the nat4 testnet (4 hosts behind 2 NAT routers; Master + Guardian on the public
 * `control` host): the overlay carries ping, HTTP and iperf3 between every NATed host with no
 * data packet through `control`; spoofed, replayed and garbage datagrams are dropped and counted
 * by reason while the node keeps serving with flat memory. One deployment for the whole file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  type Deployment,
  dataplaneOf,
  deploy,
  destroy,
  isRoot,
  NODE_HOSTS,
  peersOf,
  ping,
  rssKiB,
} from "./_deployment.ts";
import { checkLocalCli } from "./_local-cli.ts";
import { BUN, delta, FailureGuard, FIXTURES, installCounters, PingWatch, readCounters } from "./_tools.ts";

const report = (line: string) => console.log(`[e2e nat4] ${line}`);

describe.skipIf(!isRoot)("nat4 mesh end to end", () => {
  let d: Deployment;
  const run = new FailureGuard();
  const guard = <T>(fn: () => Promise<T>) => run.guard(fn);

  beforeAll(
    guard(async () => {
      d = await deploy({
        beforeStart: async (mesh) => {
          // Counting starts before any veilnet process runs: handshakes and punches count too.
          await installCounters(mesh, "control");
          await installCounters(mesh, "r1");
        },
      });
      report(`mesh up ${(d.meshUpMs / 1000).toFixed(1)} s after the nodes started (${d.command.kind})`);
    }),
    240_000,
  );
  afterAll(async () => {
    await destroy(d, run.failed);
  }, 60_000);

  test(
    "every NATed host pings every other over the overlay",
    guard(async () => {
      const pairs = NODE_HOSTS.flatMap((a) => NODE_HOSTS.filter((b) => b !== a).map((b) => [a, b] as const));
      const results = await Promise.all(
        pairs.map(async ([a, b]) => ({ a, b, r: await ping(d.mesh, a, d.ips.get(b)!, { count: 3 }) })),
      );
      for (const { a, b, r } of results)
        report(`ping ${a} → ${b}: ${r.received}/${r.sent}, avg ${r.avgMs} ms`);
      for (const { a, b, r } of results)
        expect({ a, b, received: r.received }).toEqual({ a, b, received: 3 });
    }),
    60_000,
  );

  test(
    "curl fetches a 2 MiB body from an HTTP server bound to an overlay address",
    guard(async () => {
      const size = 2 * 1024 * 1024;
      const ip = d.ips.get("h4")!;
      const server = d.mesh.spawn("h4", [BUN, `${FIXTURES}/http-server.ts`, ip, "8080", String(size)]);
      try {
        await waitForOutput(server.stdout, "listening", 15_000);
        const body = new Uint8Array(size);
        for (let i = 0; i < size; i++) body[i] = (i * 31) % 251;
        const expected = createHash("sha256").update(body).digest("hex");
        for (const client of ["h1", "h3"]) {
          const t0 = performance.now();
          const r = await d.mesh.exec(
            client,
            ["sh", "-c", `curl -sS --max-time 20 http://${ip}:8080/ | sha256sum`],
            { timeoutMs: 30_000 },
          );
          const ms = performance.now() - t0;
          report(`curl ${client} → h4 (${ip}): ${size} bytes in ${ms.toFixed(0)} ms, exit ${r.code}`);
          expect(r.stdout.split(" ")[0]).toBe(expected);
        }
      } finally {
        await server.stop();
      }
    }),
    60_000,
  );

  test(
    "iperf3 (3 s) runs between hosts behind different NATs over overlay addresses",
    guard(async () => {
      const server = d.ips.get("h3")!;
      const srv = d.mesh.spawn("h3", ["iperf3", "-s", "-1", "-B", server]);
      try {
        await Bun.sleep(500);
        const r = await d.mesh.exec(
          "h1",
          ["iperf3", "-c", server, "-B", d.ips.get("h1")!, "-t", "3", "-J", "--connect-timeout", "5000"],
          { timeoutMs: 30_000 },
        );
        expect(r.code).toBe(0);
        const j = JSON.parse(r.stdout) as {
          end: {
            sum_received: { bytes: number; bits_per_second: number };
            sum_sent: { retransmits?: number };
          };
        };
        const mbps = j.end.sum_received.bits_per_second / 1e6;
        report(
          `iperf3 h1 → h3 over the overlay: ${mbps.toFixed(0)} Mbit/s, ${j.end.sum_received.bytes} bytes, ` +
            `${j.end.sum_sent.retransmits ?? "?"} retransmits`,
        );
        expect(j.end.sum_received.bytes).toBeGreaterThan(1_000_000);
      } finally {
        await srv.stop();
      }
    }),
    60_000,
  );

  test(
    "no overlay or Anchor packet passed through the control host (nftables counters)",
    guard(async () => {
      const control = await readCounters(d.mesh, "control");
      const r1 = await readCounters(d.mesh, "r1");
      report(`control counters: ${JSON.stringify(control)}`);
      report(`r1 counters (positive control): ${JSON.stringify(r1)}`);
      // Master and Guardian talk TCP; not one UDP datagram reached, left or crossed control.
      for (const hook of ["input", "forward", "output"]) expect(control[`${hook}.udp`]?.packets).toBe(0);
      expect(control["input.tcp"]!.packets).toBeGreaterThan(0);
      expect(control["forward.tcp"]!.packets).toBe(0);
      // The same rule on NAT router r1 did see the cross-NAT Anchor traffic (iperf3 h1 → h3).
      expect(r1["forward.udp"]!.bytes).toBeGreaterThan(1_000_000);
    }),
    30_000,
  );

  test(
    "a packet with a spoofed overlay source is dropped and counted by the receiver",
    guard(async () => {
      const h2 = d.ips.get("h2")!;
      const before = dataplaneOf(await d.demo.localStatus("h2"));
      // h1 sends through its real session, but as h3 (impersonation) and as an unassigned address.
      const fakes = [d.ips.get("h3")!, "100.127.255.254"];
      let sent = 0;
      for (const fake of fakes) {
        await d.mesh.exec("h1", ["ip", "addr", "add", `${fake}/32`, "dev", "veil0"]);
        try {
          const r = await ping(d.mesh, "h1", h2, { count: 5, intervalS: 0.1, waitS: 1, source: fake });
          expect(r.received).toBe(0);
          sent += r.sent;
        } finally {
          await d.mesh.exec("h1", ["ip", "addr", "del", `${fake}/32`, "dev", "veil0"]);
        }
      }
      // IPv6: h1 as h3's certified overlay IPv6 address, to h2's.
      const v6 = async (h: string) => String((await d.demo.localStatus(h))?.ipv6);
      const [fake6, h2v6] = [await v6("h3"), await v6("h2")];
      await d.mesh.exec("h1", ["ip", "-6", "addr", "add", `${fake6}/128`, "dev", "veil0", "nodad"]);
      try {
        const r = await ping(d.mesh, "h1", h2v6, { count: 5, intervalS: 0.1, waitS: 1, source: fake6 });
        expect(r.sent).toBe(5);
        expect(r.received).toBe(0);
        sent += r.sent;
      } finally {
        await d.mesh.exec("h1", ["ip", "-6", "addr", "del", `${fake6}/128`, "dev", "veil0"]);
      }
      const after = dataplaneOf(await d.demo.localStatus("h2"));
      const dd = delta(before, after);
      report(
        `spoofed: ${sent} pings sent from h1 as ${[...fakes, fake6].join(", ")}; h2 drop deltas ${JSON.stringify(dd)}`,
      );
      expect(dd.dropRxSpoofed).toBe(sent);
      expect((await ping(d.mesh, "h1", h2, { count: 2 })).received).toBe(2);
    }),
    60_000,
  );

  let replayIndexHex = "";

  test(
    "a replayed sealed datagram (same bytes, same addresses) is dropped as a replay",
    guard(async () => {
      const h1 = await d.demo.localStatus("h1");
      const port = Number(h1?.port);
      const h2id = d.ids.get("h2")!;
      const endpoint = peersOf(h1).find((p) => p.id === h2id)?.endpoint;
      expect(endpoint).toBeTruthy();
      const srcIp = endpoint!.replace(/:\d+$/, "");
      // Capture on h1's LAN interface what h2 sends h1, then inject it from the host that owns srcIp.
      const h1if = d.mesh.hosts.h1!.interfaces[0]!.name;
      const owner = Object.values(d.mesh.hosts).find((h) => h.addresses.includes(srcIp));
      expect(owner).toBeTruthy();
      const ownerIf = owner!.interfaces.find((i) => i.address === srcIp)!.name;
      const cap = d.mesh.exec(
        "h1",
        [BUN, `${FIXTURES}/raw-frame.ts`, "capture", h1if, srcIp, String(port), "100", "10000"],
        {
          timeoutMs: 20_000,
        },
      );
      await Bun.sleep(300);
      const traffic = ping(d.mesh, "h2", d.ips.get("h1")!, { count: 10, intervalS: 0.2, source: undefined });
      const captured = await cap;
      await traffic;
      expect(captured.code).toBe(0);
      const frame = captured.stdout.trim();
      const ihl = (Number.parseInt(frame.slice(28, 30), 16) & 0x0f) * 4;
      const payloadHex = frame.slice((14 + ihl + 8) * 2);
      replayIndexHex = payloadHex.slice(8, 16);
      report(`captured a ${frame.length / 2}-byte frame from ${endpoint} (via ${owner!.name}/${ownerIf})`);

      const before = dataplaneOf(await d.demo.localStatus("h1"));
      const inj = await d.mesh.exec(owner!.name, [
        BUN,
        `${FIXTURES}/raw-frame.ts`,
        "inject",
        ownerIf,
        frame,
        "5",
      ]);
      expect(inj.code).toBe(0);
      await Bun.sleep(500);
      const after = dataplaneOf(await d.demo.localStatus("h1"));
      const dd = delta(before, after);
      report(`replayed the frame 5 times; h1 drop deltas ${JSON.stringify(dd)}`);
      expect(dd.dropRxReplay).toBe(5);
      expect(dd.rxPackets ?? 0).toBe(0);
      expect((await ping(d.mesh, "h2", d.ips.get("h1")!, { count: 2 })).received).toBe(2);
    }),
    60_000,
  );

  test(
    "10 s of garbage UDP at 10,000 packets/s: dropped and counted, node keeps serving, RSS flat",
    guard(async () => {
      const status = await d.demo.localStatus("h1");
      const port = Number(status?.port);
      const pid = d.demo.nodes.get("h1")!.proc.pid;
      const lanIp = d.mesh.addressOf("h1", "h2");
      const before = await d.demo.localQuery("h1", "counters");
      const rss0 = rssKiB(pid);
      const watchers = ["h2", "h3"].map((h) => new PingWatch(d.mesh, h, d.ips.get("h1")!, 0.2));
      const t0 = Date.now();
      const flood = await d.mesh.exec(
        "h2",
        [BUN, `${FIXTURES}/udp-flood.ts`, lanIp, String(port), "10000", "10", replayIndexHex],
        { timeoutMs: 30_000 },
      );
      const t1 = Date.now();
      const rssFlood = rssKiB(pid);
      const during = await Promise.all(watchers.map((w) => w.stop()));
      await Bun.sleep(3000);
      const rss1 = rssKiB(pid);
      const after = await d.demo.localQuery("h1", "counters");
      const cli = await d.mesh.exec("h1", [
        ...d.command.argv,
        "counters",
        "--state",
        d.demo.nodes.get("h1")!.stateDir,
        "--json",
      ]);
      expect(cli.code).toBe(0);
      const sent = JSON.parse(flood.stdout.trim()) as { sent: number; seconds: number; pps: number };
      // The data-plane deltas are taken from what `veilnet counters` printed.
      const printed = JSON.parse(cli.stdout) as { dataplane: Record<string, number> };
      const dp = delta((before?.dataplane ?? {}) as Record<string, number>, printed.dataplane);
      const hs = delta(
        (before?.handshakes ?? {}) as Record<string, number>,
        (after?.handshakes ?? {}) as Record<string, number>,
      );
      const expectedDuring = Math.floor((t1 - t0) / 200);
      const gotDuring = during.map((replies) => replies.filter((t) => t >= t0 && t <= t1).length);
      report(`flood: ${JSON.stringify(sent)}`);
      report(`h1 data-plane deltas: ${JSON.stringify(dp)}`);
      report(`h1 handshake-driver deltas: ${JSON.stringify(hs)}`);
      report(
        `ping replies during the flood (h2, h3 → h1, 5/s): ${gotDuring.join(", ")} of ~${expectedDuring}`,
      );
      report(
        `h1 VmRSS: before ${rss0} KiB, end of flood ${rssFlood} KiB, +3 s ${rss1} KiB (Δ ${rss1 - rss0} KiB)`,
      );

      expect(flood.code).toBe(0);
      expect(sent.sent).toBeGreaterThanOrEqual(95_000);
      // Every class of garbage is counted under its reason.
      expect(dp.dropRxUnknownIndex).toBeGreaterThan(0);
      expect(dp.dropRxMalformedHeader).toBeGreaterThan(0);
      expect(dp.dropRxBadTag).toBeGreaterThan(0);
      expect((hs.dropped ?? 0) + (hs.rejected ?? 0)).toBeGreaterThan(0);
      const counted =
        (dp.dropRxUnknownIndex ?? 0) +
        (dp.dropRxMalformedHeader ?? 0) +
        (dp.dropRxBadTag ?? 0) +
        (dp.dropRxShort ?? 0) +
        (dp.dropRxReplay ?? 0) +
        (dp.dropRxControlRingFull ?? 0) +
        (dp.dropRxControlTooBig ?? 0) +
        (dp.rxControl ?? 0);
      report(`garbage accounted for by h1: ${counted} of ${sent.sent} sent`);
      expect(counted).toBeGreaterThanOrEqual(sent.sent * 0.99);
      // The node kept serving during and after.
      for (const n of gotDuring) expect(n).toBeGreaterThanOrEqual(expectedDuring * 0.9);
      expect((await ping(d.mesh, "h3", d.ips.get("h1")!, { count: 3 })).received).toBe(3);
      // Memory stays flat: no per-datagram state survives.
      expect(rss1 - rss0).toBeLessThan(16 * 1024);
    }),
    90_000,
  );

  test(
    "veilnet sessions/metrics/events --follow against a live node while a peer restarts",
    guard(async () => {
      const t0 = performance.now();
      await checkLocalCli(d, "h2", "h4", report);
      report(`local CLI test took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }),
    120_000,
  );
});

async function waitForOutput(stream: ReadableStream<Uint8Array> | null, marker: string, ms: number) {
  if (!stream) throw new Error("no stdout");
  const reader = stream.getReader();
  let text = "";
  const deadline = Date.now() + ms;
  try {
    while (!text.includes(marker)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for '${marker}': ${text}`);
      const chunk = await Promise.race([
        reader.read(),
        Bun.sleep(left).then(() => ({ done: true as const })),
      ]);
      if (chunk.done) throw new Error(`stream ended before '${marker}': ${text}`);
      text += new TextDecoder().decode(chunk.value);
    }
  } finally {
    reader.releaseLock();
  }
}
