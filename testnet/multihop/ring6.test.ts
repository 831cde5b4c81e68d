/**
 * ring6 + control segment (UDP dropped there): h1..h6 form a ring of UDP links, so h1 reaches h4
 * only over 3-hop paths, one each way round. Real nats-server, TUN, namespaces and executable.
 *
 *   - a cut link on the active path during `ping -i 0.05`: traffic moves the other way, gap ≤ 2 s;
 *   - an iperf3 TCP transfer across a cut finishes: the receiver gets every byte it asked for;
 *   - a lossy link (10 %) and a slow link (tbf 1 Mbit/s) are avoided when a better path exists;
 *   - a node advertising false low costs (×0.02) does not keep the traffic once measured;
 *   - a restarted node picks the good path from its stored Q-table before a cold one does;
 *   - the control plane stays quiet: no node sends more than one signed message a second.
 *
 * Every measured number is printed (`[multihop …]` lines).
 */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  activePath,
  deployMultihop,
  destroyMultihop,
  hostsOf,
  isRoot,
  type MultihopNet,
  parsePing,
  type RouteView,
  routes,
  startNode,
  waitFor,
} from "./_multihop.ts";
import { sendStream, startSink } from "./_stream.ts";

let net: MultihopNet | undefined;
let failed = false;
/** h2 runs with VEILNET_ROUTING_LIE (the liar scenario leaves it so). */
let h2Lies = false;
const ip = (h: string) => net!.ips.get(h)!;

/** Waits until `from` has an active path to `to` for which `ok(hostsOnPath)` holds; returns ms. */
async function waitPath(from: string, to: string, ok: (hops: string[]) => boolean, timeoutMs: number) {
  return waitFor(`${from}→${to} path`, timeoutMs, async () => {
    const p = await activePath(net!, from, to);
    return p !== null && ok(hostsOf(net!, p));
  });
}

/** Keeps `from` sending to `to` (demand) while `fn` runs. */
async function withTraffic<T>(from: string, to: string, fn: () => Promise<T>): Promise<T> {
  const p = net!.mesh.spawn(from, ["ping", "-n", "-q", "-i", "0.2", ip(to)], {
    stdout: "ignore",
    stderr: "ignore",
  });
  try {
    return await fn();
  } finally {
    await p.stop();
  }
}

async function standbyReady(from: string, to: string): Promise<void> {
  await waitFor(`${from}→${to} standby`, 40_000, async () => {
    const r = await routes(net!, from);
    const d = r.destinations.find((x) => x.dest === ip(to));
    return d?.standby != null && d.candidates.every((c) => c.ready || c.state === "suspect");
  });
}

const sideOf = (hops: string[]) => (hops.includes("h2") ? "h2-side" : "h6-side");

/** One line of `from`'s view of `to`: each candidate's hops, state, cost, RTT, samples and burst. */
async function viewLine(from: string, to: string): Promise<string> {
  const r = await routes(net!, from);
  const d = r.destinations.find((x) => x.dest === ip(to)) as
    | (RouteView & { activeForS?: number; advertisedMs?: number | null })
    | undefined;
  if (!d) return `${from}→${to}: no state; known ${JSON.stringify(r.knownDestinations)}`;
  const bursts = ((r.trains as { bursts?: Record<number, number> } | undefined)?.bursts ?? {}) as Record<
    number,
    number
  >;
  const c = d.candidates.map(
    (x) =>
      `${x.pathId === d.activePathId ? "*" : ""}${hostsOf(net!, x.hops).join(",")} ${x.state} ` +
      `cost ${x.costMs} rtt ${x.rttMs} n ${(x as { samples?: number }).samples} burst ${bursts[x.pathId] ?? "-"}`,
  );
  const nb = (r.neighbours as { node: string; up: boolean; rttMs: number | null; suspicion: number | null }[])
    .map((n) => `${hostsOf(net!, [n.node])[0]}${n.up ? "" : " down"} ${n.rttMs}ms s${n.suspicion}`)
    .join(", ");
  const claims = (r.claims as Record<string, Record<string, number>> | undefined)?.[ip(to)] ?? {};
  const cl = Object.entries(claims)
    .map(([n, ms]) => `${hostsOf(net!, [n])[0]} ${ms}`)
    .join(", ");
  return (
    `${from}→${to} active ${d.activeForS}s, advertised ${d.advertisedMs}: ${c.join(" | ")}; ` +
    `claims {${cl}}; neighbours {${nb}}; builds ${JSON.stringify(r.builds)}; agent ${JSON.stringify(r.agent)}`
  );
}

/** What `host` advertises for `to` ("ms via neighbour"), for the logs. */
async function advertisesLine(host: string, to: string): Promise<string> {
  const r = await routes(net!, host);
  const a = (r.advertises as Record<string, string> | undefined)?.[ip(to)] ?? "nothing";
  const [ms, via] = a.split(" via ");
  return `${host} advertises ${to}: ${via ? `${ms} via ${hostsOf(net!, [via])[0]}` : a}`;
}

/** Scenario "a cut link on the active path: traffic moves the other way, ping gap ≤ 2 s" (timeout 120_000 ms). */
async function cutDuringPing(): Promise<void> {
  try {
    await withTraffic("h1", "h4", async () => {
      await standbyReady("h1", "h4").catch(() => net!.log("h1→h4 standby not ready"));
      await standbyReady("h4", "h1").catch(() => net!.log("h4→h1 standby not ready"));
    });
    const ping = net!.mesh.spawn("h1", ["ping", "-D", "-n", "-i", "0.05", "-c", "160", "-W", "1", ip("h4")]);
    await Bun.sleep(3_000);
    const before = hostsOf(net!, await activePath(net!, "h1", "h4"));
    // cut the middle link of the active path (h2–h3 or h6–h5)
    const [a, b] = before[0] === "h2" ? ["h2", "h3"] : ["h6", "h5"];
    await net!.mesh.link(a, b).down();
    try {
      const cutAt = performance.now();
      const out = await new Response(ping.stdout as ReadableStream).text();
      await ping.exited;
      const after = hostsOf(net!, await activePath(net!, "h1", "h4"));
      const p = parsePing(out);
      const around = ((await routes(net!, "h1")).counters as { sentAround?: number } | undefined)?.sentAround;
      net!.log(
        `cut ${a}–${b} ${Math.round(performance.now() - cutAt)} ms before the ping ended; path ${before.join(",")} → ${after.join(",")}; ` +
          `ping ${p.received}/${p.sent}, largest reply gap ${Math.round(p.maxGapMs)} ms; h1 sent around a stall: ${around}`,
      );
      expect(sideOf(after)).not.toBe(sideOf(before));
      expect(p.maxGapMs).toBeLessThanOrEqual(2_000);
    } finally {
      await net!.mesh.link(a, b).up();
    }
  } catch (e) {
    failed = true;
    throw e;
  }
}

/**
 * A byte-exact TCP stream (1 MiB, random) from h1 to h4 with the active path's middle link cut 2 s
 * in. Paced at 256 KiB/s (~4 s), so the cut lands inside it: unpaced, the stream was over in 0.1 s,
 * long before the cut.
 */
async function streamAcrossCut(): Promise<void> {
  const port = 45_201;
  const size = 1 << 20;
  const sink = await startSink(net!, "h4", port);
  const sending = sendStream(net!, "h1", "h4", port, size, 90_000, 256 << 10);
  await Bun.sleep(2_000);
  const path = hostsOf(net!, await activePath(net!, "h1", "h4"));
  const [a, b] = path[0] === "h2" ? ["h2", "h3"] : ["h6", "h5"];
  await net!.mesh.link(a, b).down();
  const cutAt = Date.now();
  let sent: Awaited<typeof sending>;
  let got: Awaited<typeof sink.result>;
  try {
    sent = await sending;
    got = await Promise.race([sink.result, Bun.sleep(10_000).then(() => null)]);
  } finally {
    await sink.proc.stop();
    await net!.mesh.link(a, b).up();
  }
  net!.log(
    `TCP stream across cut ${a}–${b}: sender exit ${sent.code} after ${sent.sent?.ms ?? "?"} ms, ` +
      `sent ${sent.sent?.bytes ?? 0} B, received ${got?.bytes ?? 0} B, hashes ${sent.sent && got && sent.sent.sha256 === got.sha256 ? "equal" : "differ"}` +
      (sent.code !== 0 ? `; stderr: ${sent.stderr.slice(-200)}` : "") +
      `; data arrived from ${got?.firstAt ? got.firstAt - cutAt : "?"} to ${got?.lastAt ? got.lastAt - cutAt : "?"} ms around the cut`,
  );
  expect(sent.code).toBe(0);
  expect(got?.bytes).toBe(size);
  expect(got?.sha256).toBe(sent.sent!.sha256);
  // "across a cut": the stream was in flight when the link went down
  expect(got!.firstAt!).toBeLessThan(cutAt);
  expect(got!.lastAt!).toBeGreaterThan(cutAt);
}

/**
 * Scenario "an iperf3 TCP transfer across a cut finishes with no data lost" (timeout 110_000 ms).
 *
 * iperf3 (3.12) cannot report sent = received for a TCP test, in either direction:
 *  - forward (`-c … -n N`): the sender sends TEST_END on the control connection as soon as its last
 *    write returned; the receiver stops counting when that arrives, whatever is still in flight
 *    on the data connection (esnet/iperf #306, #382; measured here: 6613650 of 7697700 B);
 *  - reverse (`-R -n N`): the client, now the receiver, ends the test only once it has received
 *    N bytes, but the server's send loop overshoots N (partial writes are counted, the check runs
 *    per loop) and that overshoot is in flight when the client stops reading (measured here:
 *    2116186 received of 2118150 sent for N = 2097152).
 * So the honest iperf3 check is the reverse one: the server (h1) writes at least N bytes towards the
 * client (h4) over h1's active path, whose middle link is cut 1.5 s in while the transfer runs;
 * the client must receive all N (TCP delivers in order, so N counted means the first N bytes all
 * arrived) and never more than the server sent. Byte-for-byte equality of everything sent is shown
 * by the byte-exact stream scenario (count and sha-256).
 */
async function iperfAcrossCut(): Promise<void> {
  const port = 45_202;
  // Paced at 16 Mbit/s, 4 MiB take ~2.1 s and the cut at 0.8 s lands inside the transfer; unpaced,
  // a quiet machine finished it before the cut (68 Mbit/s).
  const bytes = 4 << 20;
  try {
    const srv = net!.mesh.spawn("h1", ["iperf3", "-s", "-1", "-J", "-B", ip("h1"), "-p", String(port)]);
    const srvOut = new Response(srv.stdout as ReadableStream).text();
    await Bun.sleep(500);
    // prettier-ignore
    const cli = net!.mesh.spawn("h4", [
      "iperf3",
      "-c",
      ip("h1"),
      "-p",
      String(port),
      "-R",
      "-n",
      String(bytes),
      "-l",
      "65536",
      "-b",
      "16M",
      "-J",
      "--connect-timeout",
      "5000",
    ]);
    const cliOut = new Response(cli.stdout as ReadableStream).text();
    let doneAt = Number.NaN;
    void cli.exited.then(() => {
      doneAt = performance.now();
    });
    await Bun.sleep(800);
    const path = hostsOf(net!, await activePath(net!, "h1", "h4"));
    const [a, b] = path[0] === "h2" ? ["h2", "h3"] : ["h6", "h5"];
    await net!.mesh.link(a, b).down();
    const cutAt = performance.now();
    let code: number;
    let srvCode: number | null;
    try {
      code = await Promise.race([cli.exited, Bun.sleep(80_000).then(() => -1)]);
      srvCode = await Promise.race([srv.exited, Bun.sleep(5_000).then(() => null)]);
    } finally {
      await cli.stop();
      await srv.stop();
      await net!.mesh.link(a, b).up();
    }
    type End = { sum_sent?: { bytes: number }; sum_received?: { bytes: number; bits_per_second: number } };
    const parse = (t: string) => {
      try {
        return JSON.parse(t) as { error?: string; end?: End };
      } catch {
        return { error: `not JSON: ${t.slice(0, 120)}` } as { error?: string; end?: End };
      }
    };
    const c = parse(await cliOut);
    const s = parse(await srvOut);
    const received = c.end?.sum_received?.bytes ?? -1;
    const sentByServer = s.end?.sum_sent?.bytes ?? -2;
    net!.log(
      `iperf3 -R -n ${bytes} across cut ${a}–${b} (h1 → h4): client exit ${code}, server exit ${srvCode}, ` +
        `${Number.isNaN(doneAt) ? "not done" : `done ${Math.round(doneAt - cutAt)} ms`} after the cut; server sent ${sentByServer} B, ` +
        `client received ${received} B, ${((c.end?.sum_received?.bits_per_second ?? 0) / 1e6).toFixed(1)} Mbit/s` +
        (c.error ? `; client error: ${c.error}` : "") +
        (s.error ? `; server error: ${s.error}` : ""),
    );
    expect(doneAt).not.toBeLessThan(cutAt); // the transfer was still running when the link went down
    expect(code).toBe(0);
    expect(srvCode).toBe(0);
    expect(received).toBeGreaterThanOrEqual(bytes);
    expect(received).toBeLessThanOrEqual(sentByServer);
  } catch (e) {
    failed = true;
    throw e;
  }
}

/** Scenario "a lossy link (10 %) and a slow link (tbf 1 Mbit/s) are avoided" (timeout 190_000 ms). */
async function lossySlowAvoided(): Promise<void> {
  try {
    await withTraffic("h1", "h4", async () => {
      await standbyReady("h1", "h4").catch(() => net!.log("h1→h4: no standby before the lossy link"));
      const now = hostsOf(net!, await activePath(net!, "h1", "h4"));
      // loss on the middle link of the side in use
      const [a, b] = now[0] === "h2" ? ["h2", "h3"] : ["h6", "h5"];
      await net!.mesh.link(a, b).loss(10);
      const lossMs = await waitPath("h1", "h4", (h) => !(h.includes(a) && h.includes(b)), 60_000).catch(
        async (e) => {
          const v = (await routes(net!, "h1")).destinations.find((x) => x.dest === ip("h4"));
          net!.log(`loss: still on the lossy link; h1's view of h4: ${JSON.stringify(v)}`);
          throw e;
        },
      );
      net!.log(`10% loss on ${a}–${b} (in use): path moved after ${Math.round(lossMs)} ms`);
      await net!.mesh.link(a, b).clear();
      // now slow down the other side, which is in use
      const cur = hostsOf(net!, await activePath(net!, "h1", "h4"));
      const [c, d] = cur[0] === "h2" ? ["h2", "h3"] : ["h6", "h5"];
      await net!.mesh.link(c, d).rate(1);
      const slowMs = await waitPath("h1", "h4", (h) => !(h.includes(c) && h.includes(d)), 60_000).catch(
        async (e) => {
          const v = (await routes(net!, "h1")).destinations.find((x) => x.dest === ip("h4"));
          net!.log(`tbf: still on the slow link; h1's view of h4: ${JSON.stringify(v)}`);
          throw e;
        },
      );
      // it stays away while the link is slow
      await Bun.sleep(5_000);
      const still = hostsOf(net!, await activePath(net!, "h1", "h4"));
      net!.log(
        `tbf 1 Mbit/s on ${c}–${d} (in use): path moved after ${Math.round(slowMs)} ms; 5 s later ${still.join(",")}`,
      );
      expect(still.includes(c) && still.includes(d)).toBe(false);
      await net!.mesh.link(c, d).clear();
    });
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // leave both middle links clean for the scenarios after this one
    await net!.mesh.link("h2", "h3").clear();
    await net!.mesh.link("h6", "h5").clear();
  }
}

/** Restarts h2 advertising every cost ×0.02. */
async function startLiar(): Promise<void> {
  await net!.demo.stopNode("h2");
  startNode(net!.demo, "h2", { VEILNET_ROUTING_LIE: "0.02" });
  h2Lies = true;
}

/** Scenario "a liar (advertises costs ×0.02) does not keep traffic once measured" (timeout 160_000 ms). */
async function liarNotKept(): Promise<void> {
  try {
    // h2's side is really slow (+40 ms on h2–h3), but h2 advertises near-zero costs.
    // Both sides must work before h2 starts lying: a link cut for long in an earlier scenario takes
    // its session (and the paths over it) down until the handshake is retried.
    await withTraffic("h1", "h4", () => standbyReady("h1", "h4")).catch(() =>
      net!.log("h1→h4: no standby before the liar"),
    );
    net!.log(`liar before: ${await viewLine("h1", "h4")}`);
    net!.log(`  ${await advertisesLine("h6", "h4")}; ${await advertisesLine("h2", "h4")}`);
    await net!.mesh.link("h2", "h3").delay(40);
    await startLiar();
    await withTraffic("h1", "h4", async () => {
      await waitFor("h2 back", 40_000, async () => (await net!.demo.localStatus("h2")) !== undefined);
      for (let i = 0; i < 5; i++) {
        await Bun.sleep(2_000);
        net!.log(`liar +${2 * (i + 1)} s: ${await viewLine("h1", "h4")}`);
        net!.log(`  ${await advertisesLine("h6", "h4")}; ${await advertisesLine("h2", "h4")}`);
      }
      let onLiar = 0;
      const samples = 15;
      for (let i = 0; i < samples; i++) {
        const p = hostsOf(net!, await activePath(net!, "h1", "h4"));
        if (p.includes("h2")) onLiar++;
        if (i % 5 === 0) net!.log(`liar sample ${i}: ${await viewLine("h1", "h4")}`);
        await Bun.sleep(1_000);
      }
      const r = await routes(net!, "h1");
      const via2 = r.destinations
        .find((d) => d.dest === ip("h4"))
        ?.candidates.filter((c) => hostsOf(net!, c.hops).includes("h2"));
      net!.log(
        `liar h2: active path through h2 in ${onLiar}/${samples} samples (10–25 s after it returned); ` +
          `candidates through h2: ${JSON.stringify(via2?.map((c) => ({ rtt: c.rttMs, state: c.state })))}`,
      );
      // "once measured": a path through the liar must have been built and measured at all
      expect(via2?.length ?? 0).toBeGreaterThan(0);
      expect(onLiar).toBe(0);
    });
  } catch (e) {
    failed = true;
    throw e;
  }
}

/** CPU seconds (user + system) a node's process has used, from /proc. */
function cpuSeconds(host: string): number {
  const stat = readFileSync(`/proc/${net!.demo.nodes.get(host)!.proc.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Control messages each node has sent and received, and its CPU seconds. */
async function controlLoad(): Promise<Map<string, { sent: number; received: number; cpuS: number }>> {
  const out = new Map<string, { sent: number; received: number; cpuS: number }>();
  for (const h of net!.hosts) {
    const c = (await net!.demo.localQuery(h, "counters")) as { control?: { sent: number; received: number } };
    if (!c?.control) throw new Error(`${h}: no control counters`);
    out.set(h, { sent: c.control.sent, received: c.control.received, cpuS: cpuSeconds(h) });
  }
  return out;
}

/**
 * Scenario "the control plane stays quiet" (timeout 60_000 ms): every message costs its sender an
 * ML-DSA-65 signature and each receiver a verification. A node publishes a health summary at most
 * once a second (summaryMinGapMs) and its presence every 20 s; nodes that share no link never hold
 * a session, and once answered each other's presences for ever (4 a second each, a quarter of a core).
 */
async function controlPlaneQuiet(): Promise<void> {
  const windowS = 20;
  try {
    await withTraffic("h1", "h4", async () => {
      const a = await controlLoad();
      await Bun.sleep(windowS * 1_000);
      const b = await controlLoad();
      const rates = net!.hosts.map((h) => {
        const x = a.get(h)!;
        const y = b.get(h)!;
        return {
          h,
          sent: (y.sent - x.sent) / windowS,
          received: (y.received - x.received) / windowS,
          cpu: (100 * (y.cpuS - x.cpuS)) / windowS,
        };
      });
      net!.log(
        `control plane over ${windowS} s: ${rates.map((r) => `${r.h} sent ${r.sent.toFixed(2)}/s received ${r.received.toFixed(2)}/s cpu ${r.cpu.toFixed(1)}%`).join("; ")}`,
      );
      for (const r of rates) expect(r.sent).toBeLessThanOrEqual(1.05);
    });
  } catch (e) {
    failed = true;
    throw e;
  }
}

/** `host`'s stored routes to `to` (its Q-table on disk, read while the node is stopped), lowest μ first. */
function storedRoutes(host: string, to: string): { hops: string[]; mu: number; n: number }[] {
  const file = join(net!.demo.nodes.get(host)!.stateDir, "routes.sqlite");
  if (!existsSync(file)) return [];
  const byId = new Map(
    [...net!.ips].map(([h, a]) => [a.split(".").reduce((n, o) => n * 256 + Number(o), 0), h]),
  );
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.query("SELECT dest, hops, mu, n_eff FROM routes").all() as {
      dest: number;
      hops: string;
      mu: number;
      n_eff: number;
    }[];
    return rows
      .filter((r) => byId.get(r.dest) === to)
      .sort((a, b) => a.mu - b.mu)
      .map((r) => ({ hops: r.hops.split(",").map((h) => byId.get(Number(h)) ?? h), mu: r.mu, n: r.n_eff }));
  } finally {
    db.close();
  }
}

const showStored = (rows: { hops: string[]; mu: number; n: number }[]) =>
  rows.length === 0
    ? "none"
    : rows.map((r) => `${r.hops.join(",")} μ ${r.mu.toFixed(1)} n ${r.n.toFixed(1)}`).join(" | ");

/** Scenario "a restarted node picks the good path from its stored Q-table before a cold one" (timeout 300_000 ms). */
async function warmBeforeCold(): Promise<void> {
  try {
    // The good path h1→h4 is h6,h5,h4: h2–h3 has +40 ms (set again here: the lossy/slow scenario
    // clears both middle links, after which the two sides were equal and "good" meant nothing) and
    // h2 still lies.
    await net!.mesh.link("h2", "h3").delay(40);
    // run alone (`-t restarted`), the scenario makes h2 the liar the full run leaves behind: a cold
    // node's claims then point the wrong way, and only measurements (stored or new) tell the sides apart
    if (!h2Lies) {
      await startLiar();
      await waitFor("h2 back", 40_000, async () => (await net!.demo.localStatus("h2")) !== undefined);
    }
    const good = (h: string[]) => h.join(",") === "h6,h5,h4";
    // The premise: h1's own table, as stored, ranks the good path first (both sides measured), so
    // that a node restarted from it has something to remember. Estimates from the earlier scenarios
    // (the two sides equal, or a liar) forget with a 60 s half-life, so h1 first restarts without
    // its table and measures both sides afresh with the +40 ms in place; one sample can rank them
    // wrongly on a loaded machine, so it is stopped once its view ranks them right, its stored table
    // checked, and it runs on (from that table) for up to three rounds.
    const dropTable = async () => {
      await net!.demo.stopNode("h1");
      for (const s of ["", "-wal", "-shm"])
        rmSync(join(net!.demo.nodes.get("h1")!.stateDir, `routes.sqlite${s}`), { force: true });
    };
    const mu = (d: RouteView | undefined, p: (h: string[]) => boolean) =>
      d?.candidates.find((c) => p(hostsOf(net!, c.hops)))?.rttMs ?? Number.POSITIVE_INFINITY;
    await dropTable();
    for (let round = 1; ; round++) {
      const t0 = performance.now();
      startNode(net!.demo, "h1");
      await waitFor("h1 back", 60_000, async () => (await net!.demo.localStatus("h1")) !== undefined);
      await withTraffic("h1", "h4", () =>
        waitFor("h1 to rank the good path first", 60_000, async () => {
          const d = (await routes(net!, "h1")).destinations.find((x) => x.dest === ip("h4"));
          const bad = mu(d, (h) => !good(h));
          return Number.isFinite(bad) && mu(d, good) < bad;
        }),
      ).catch(() => net!.log(`round ${round}: h1 does not rank the good path first`));
      await net!.demo.stopNode("h1"); // the table is written on exit
      const rows = storedRoutes("h1", "h4");
      net!.log(
        `round ${round}, ${Math.round(performance.now() - t0)} ms: h1's stored routes to h4: ${showStored(rows)}`,
      );
      if (rows.length >= 2 && good(rows[0]!.hops)) break;
      if (round === 3)
        throw new Error(`h1's stored table does not rank the good path first: ${showStored(rows)}`);
    }
    /** Starts the stopped h1 and measures how long until its active path to h4 is the good one. */
    const timeToGood = async (label: string) => {
      const t0 = performance.now();
      startNode(net!.demo, "h1");
      // traffic starts once the node is up: a ping started before its TUN exists exits at once
      await waitFor("h1 back", 60_000, async () => (await net!.demo.localStatus("h1")) !== undefined);
      const up = performance.now() - t0;
      return withTraffic("h1", "h4", async () => {
        // the log lines every 3 s must not delay the result: the time is taken when the path is
        // seen, and the watcher wakes every 100 ms to stop (it once slept its 3 s out first, which
        // rounded every time up to the next multiple of 3 s after the node was up)
        let watching = true;
        const watch = (async () => {
          for (let i = 1; watching; i++) {
            const until = performance.now() + 3_000;
            while (watching && performance.now() < until) await Bun.sleep(100);
            if (watching) net!.log(`${label} +${3 * i} s: ${await viewLine("h1", "h4").catch(String)}`);
          }
        })();
        let reachedAt: number;
        try {
          await waitPath("h1", "h4", good, 60_000);
          reachedAt = performance.now();
        } catch (e) {
          const total = performance.now() - t0;
          const r = await routes(net!, "h1");
          const d = r.destinations.find((x) => x.dest === ip("h4"));
          net!.log(
            `${label} restart: no good path; h1's view of h4: ${JSON.stringify(d)}; neighbours ` +
              `${JSON.stringify(r.neighbours)}, known destinations ${r.knownDestinations}, agent ${JSON.stringify(r.agent)}, ` +
              `builds ${JSON.stringify(r.builds)}`,
          );
          // a cold node that has not found the good path in 60 s took at least this long: the
          // comparison uses that lower bound; a warm node that has not is a failure
          if (label === "warm") throw e;
          net!.log(
            `${label} restart: control socket after ${Math.round(up)} ms, no good path ${Math.round(total - up)} ms after`,
          );
          return { total, afterUp: total - up, reached: false };
        } finally {
          watching = false;
          await watch;
        }
        const total = reachedAt - t0;
        const r = await net!.mesh.exec("h1", ["ping", "-n", "-c", "1", "-W", "1", ip("h4")], {
          timeoutMs: 5_000,
        });
        net!.log(
          `${label} restart: control socket after ${Math.round(up)} ms, good path after ${Math.round(total)} ms ` +
            `(${Math.round(total - up)} ms after the node was up; ping ${r.code === 0 ? "ok" : "lost"})`,
        );
        return { total, afterUp: total - up, reached: true };
      });
    };
    // Two restarts of each kind, compared on their means: one timing of each is a coin toss
    // whenever a cold node happens to resolve the good side first (it then needs only a build).
    const warm = [await timeToGood("warm")];
    await net!.demo.stopNode("h1"); // its table, written on exit, is the next warm start's
    warm.push(await timeToGood("warm"));
    const cold = [];
    for (let i = 0; i < 2; i++) {
      await dropTable();
      cold.push(await timeToGood("cold"));
    }
    const ms = (r: { afterUp: number; reached: boolean }) =>
      `${r.reached ? "" : "≥ "}${Math.round(r.afterUp)}`;
    const mean = (rs: { afterUp: number }[]) => rs.reduce((sum, r) => sum + r.afterUp, 0) / rs.length;
    net!.log(
      `warm/cold time to the good path after the node was up: warm ${warm.map(ms).join(", ")} ms, cold ${cold.map(ms).join(", ")} ms; ` +
        `means ${Math.round(mean(warm))} / ${Math.round(mean(cold))} ms = ${(mean(warm) / mean(cold)).toFixed(2)}`,
    );
    expect(mean(warm)).toBeLessThan(mean(cold));
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    await net!.mesh.link("h2", "h3").delay(0);
  }
}

describe.skipIf(!isRoot)("multi-hop routing on ring6 + control segment", () => {
  beforeAll(async () => {
    net = await deployMultihop("ring", 6, { env: {} });
  }, 120_000);

  afterAll(async () => {
    await destroyMultihop(net, failed);
  }, 30_000);

  test("h1 reaches h4 (no shared link) over a 3-hop path", async () => {
    try {
      const ms = await withTraffic("h1", "h4", () => waitPath("h1", "h4", (h) => h.length === 3, 60_000));
      // Replies travel on h4's own choice of path: measure delivery once both directions have one.
      const back = await withTraffic("h4", "h1", () => waitPath("h4", "h1", (h) => h.length === 3, 30_000));
      net!.log(`reverse path h4→h1 ready ${Math.round(back)} ms later`);
      const r = await net!.mesh.exec("h1", ["ping", "-n", "-c", "5", "-i", "0.2", ip("h4")], {
        timeoutMs: 20_000,
      });
      const p = parsePing(r.stdout);
      net!.log(`first path h1→h4 after ${Math.round(ms)} ms; ping 5: ${p.received}/5 received`);
      expect(p.received).toBeGreaterThanOrEqual(4);
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 90_000);
  // The scenarios' assertions live in the functions above; every measured number is printed. Those
  // still `test.todo` do not meet their targets reliably yet (run them with `bun test --todo`).
  // They run in this order. The liar scenario leaves h2 lying and +40 ms on h2–h3; the lossy/slow
  // scenario clears both middle links; the restart scenario sets the +40 ms again and clears it.
  test(
    "the control plane stays quiet: no node sends more than one control message a second",
    controlPlaneQuiet,
    60_000,
  );
  test("a cut link on the active path: traffic moves the other way, ping gap ≤ 2 s", cutDuringPing, 120_000);
  test("a TCP stream across a cut arrives byte-exact (1 MiB, sha-256)", streamAcrossCut, 90_000);
  test(
    "an iperf3 TCP transfer (-R -n 4 MiB) across a cut: the receiver gets all 4 MiB, never more than the sender sent",
    iperfAcrossCut,
    110_000,
  );
  // The liar runs before the lossy/slow links: estimates of a healed link recover slowly (after the
  // tbf and loss scenario the good side still looked worse than a +40 ms liar path 10–25 s later).
  test("a liar (costs ×0.02) does not keep traffic once measured", liarNotKept, 160_000);
  test(
    "a lossy (10 %) and a slow (tbf 1 Mbit/s) link are avoided when a better path exists",
    lossySlowAvoided,
    190_000,
  );
  // Focused runs (after the node was up, warm / cold ms): 704/5305, 486/6216; full runs 731/4877,
  // 680/5469, 450/2815. Figures before 2026-11-26 were rounded up to a multiple of 3 s by the
  // scenario's log watcher, and taken while a presence storm kept the machine busy.
  test(
    "a restarted node picks the good path from its stored Q-table before a cold one",
    warmBeforeCold,
    300_000,
  );
});
