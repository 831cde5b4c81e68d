/**
 * End to end in the nat4 testnet: a node restarted with its state directory is back on the
 * overlay at once; Guardian's quarantine and revoke cut a node off from every peer within 5 s;
 * Guardian's shutdown stops a node cleanly (exit 0, TUN gone). One deployment for the whole file;
 * the tests run in order and each uses a different node (chosen by node id).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Deployment, deploy, destroy, isRoot, NODE_HOSTS, peersOf, ping } from "./_deployment.ts";
import { FailureGuard, PingWatch } from "./_tools.ts";

const report = (line: string) => console.log(`[e2e lifecycle] ${line}`);
const CUT_OFF_MS = 5000;
const RESUME_TARGET_MS = 2000;

describe.skipIf(!isRoot)("node lifecycle end to end", () => {
  let d: Deployment;
  const run = new FailureGuard();
  /** Hosts by descending node id (who offers to whom depends on it). */
  let byId: string[] = [];
  const guard = <T>(fn: () => Promise<T>) => run.guard(fn);

  beforeAll(
    guard(async () => {
      d = await deploy();
      byId = [...NODE_HOSTS].sort((a, b) => (d.ids.get(b)! > d.ids.get(a)! ? 1 : -1));
      report(`mesh up ${(d.meshUpMs / 1000).toFixed(1)} s after the nodes started (${d.command.kind})`);
    }),
    240_000,
  );
  afterAll(async () => {
    await destroy(d, run.failed);
  }, 60_000);

  const others = (host: string, among: readonly string[] = NODE_HOSTS) => among.filter((h) => h !== host);

  // The highest id: every peer offers to it; the lowest: it offers to all. Either way every peer
  // re-dials it at once when its presence shows a new epoch.
  for (const rank of ["highest", "lowest"] as const) {
    test(
      `a restarted node (SIGTERM, same state dir; ${rank} node id) re-establishes its sessions and ping resumes`,
      guard(async () => {
        const host = rank === "highest" ? byId[0]! : byId[3]!;
        const peers = others(host);
        const ip = d.ips.get(host)!;
        const code = await d.demo.stopNode(host);
        const tunGone = await d.mesh.exec(host, ["ip", "link", "show", "veil0"]);
        report(`${host} stopped by SIGTERM: exit ${code}; veil0 present: ${tunGone.code === 0}`);
        expect(code).toBe(0);
        expect(tunGone.code).not.toBe(0);

        const watches = peers.map((p) => new PingWatch(d.mesh, p, ip, 0.02));
        await Bun.sleep(300);
        const spawnedAt = Date.now();
        d.demo.startNode(host);
        const firsts = await Promise.all(watches.map((w) => w.firstReplyAfter(spawnedAt, 45_000)));
        await Promise.all(watches.map((w) => w.stop()));
        const ms = firsts.map((t) => (t === undefined ? undefined : Math.round(t - spawnedAt)));
        await d.demo.waitForSessions(NODE_HOSTS, 30_000);
        const runningAt = await logTime(host, "running; control socket", "last");
        report(
          `${host} restart (${rank} id): first ping reply after spawn from ${peers
            .map((p, i) => `${p} ${ms[i] ?? "none"} ms`)
            .join(
              ", ",
            )} (target ${RESUME_TARGET_MS} ms); the node reported running at +${runningAt - spawnedAt} ms`,
        );
        for (const m of ms) expect(m).toBeDefined();
        for (const m of ms) expect(m!).toBeLessThanOrEqual(RESUME_TARGET_MS);
      }),
      120_000,
    );
  }

  test(
    "quarantine: within 5 s no peer exchanges data with the node, and every peer has torn its session down",
    guard(async () => {
      const host = byId[1]!;
      const peers = others(host);
      const id = d.ids.get(host)!;
      const watches = peers.map((p) => new PingWatch(d.mesh, p, d.ips.get(host)!, 0.05));
      try {
        await Bun.sleep(500);
        const t0 = Date.now();
        const adminRun = d.demo.admin(["quarantine", id.slice(0, 12), "--reason", "e2e"]);
        // Every peer's view: no session with it any more.
        // All peers asked at once: one round is one CLI start, not three in a row.
        const peersDownMs = await until(CUT_OFF_MS * 3, async () => {
          const views = await Promise.all(peers.map((p) => d.demo.localStatus(p)));
          return views.every((v) => peersOf(v).find((x) => x.id === id)?.state !== "up");
        });
        const r = await adminRun;
        const adminMs = Date.now() - t0;
        const executedAt = await logTime(host, "quarantined:");
        await Bun.sleep(Math.max(0, CUT_OFF_MS - (Date.now() - t0)) + 1000);
        const replies = await Promise.all(watches.map((w) => w.stop()));
        const last = replies.map((rs) => rs.filter((t) => t >= t0).at(-1));
        const rx0 = await rxFrom(peers, id);
        await Bun.sleep(1500);
        const rx1 = await rxFrom(peers, id);
        const states = await Promise.all(
          peers.map(
            async (p) => peersOf(await d.demo.localStatus(p)).find((x) => x.id === id)?.state ?? "gone",
          ),
        );
        report(
          `quarantine ${host}: admin CLI done in ${adminMs} ms, node executed it at +${executedAt - t0} ms; ` +
            `every peer's session down at +${peersDownMs ?? "never"} ms; last ping reply ${peers
              .map((p, i) => `${p} ${last[i] === undefined ? "none" : `+${Math.round(last[i]! - t0)} ms`}`)
              .join(", ")}; peers' view now: ${states.join(", ")}`,
        );
        expect(r.code).toBe(0);
        expect(peersDownMs).toBeDefined();
        expect(peersDownMs!).toBeLessThanOrEqual(CUT_OFF_MS);
        for (const t of last) if (t !== undefined) expect(t - t0).toBeLessThanOrEqual(CUT_OFF_MS);
        expect(rx1).toEqual(rx0);
        // its own presence says so: peers stop dialling it (no handshakes spent on a node that refuses)
        expect(states.every((s) => s === "quarantined")).toBe(true);
        expect((await ping(d.mesh, peers[0]!, d.ips.get(host)!, { count: 3, waitS: 1 })).received).toBe(0);
      } finally {
        await Promise.all(watches.map((w) => w.stop()));
        const rel = await d.demo.admin(["release", id.slice(0, 12)]);
        report(`release ${host}: exit ${rel.code}`);
      }
      const t1 = Date.now();
      await d.demo.waitForSessions(NODE_HOSTS, 30_000);
      report(
        `after release every session is up again ${Date.now() - t1} ms after the release command returned`,
      );
    }),
    120_000,
  );

  test(
    "revoke: within 5 s every peer blocks the node and no data flows",
    guard(async () => {
      const host = byId[2]!;
      const peers = others(host);
      const id = d.ids.get(host)!;
      const watches = peers.map((p) => new PingWatch(d.mesh, p, d.ips.get(host)!, 0.05));
      await Bun.sleep(500);
      const t0 = Date.now();
      const adminRun = d.demo.admin(["revoke", id.slice(0, 12), "--reason", "e2e"]);
      const blockedMs = await until(CUT_OFF_MS * 3, async () => {
        const views = await Promise.all(peers.map((p) => d.demo.localStatus(p)));
        return views.every((v) => {
          const view = peersOf(v).find((x) => x.id === id);
          return !view || view.state === "blocked";
        });
      });
      const r = await adminRun;
      const adminMs = Date.now() - t0;
      const exit = await Promise.race([
        d.demo.nodes.get(host)!.proc.exited,
        Bun.sleep(5000).then(() => "running"),
      ]);
      const replies = await Promise.all(watches.map((w) => w.stop()));
      const last = replies.map((rs) => rs.filter((t) => t >= t0).at(-1));
      const executedAt = await logTime(host, "admin command executed: revoke");
      report(
        `revoke ${host}: every peer shows it blocked at +${blockedMs ?? "never"} ms; admin CLI done in ${adminMs} ms, ` +
          `node executed it at +${executedAt - t0} ms; last ping reply ${peers
            .map((p, i) => `${p} ${last[i] === undefined ? "none" : `+${Math.round(last[i]! - t0)} ms`}`)
            .join(", ")}; revoked node exit: ${exit}`,
      );
      expect(r.code).toBe(0);
      expect(blockedMs).toBeDefined();
      expect(blockedMs!).toBeLessThanOrEqual(CUT_OFF_MS);
      for (const t of last) if (t !== undefined) expect(t - t0).toBeLessThanOrEqual(CUT_OFF_MS);
      for (const p of peers)
        expect(peersOf(await d.demo.localStatus(p)).find((x) => x.id === id)?.state).toBe("blocked");

      // A peer that starts after the revocation learns it from Guardian before it answers anyone.
      const late = peers[0]!;
      expect(await d.demo.stopNode(late)).toBe(0);
      d.demo.startNode(late);
      let revocations: unknown;
      await until(30_000, async () => {
        revocations = (await d.demo.localStatus(late))?.revocations;
        return revocations !== undefined;
      });
      report(`${late} restarted after the revocation: its revocation set ${JSON.stringify(revocations)}`);
      expect(revocations).toMatchObject({ entries: 1 });
      await d.demo.waitForSessions(others(host), 30_000);
    }),
    90_000,
  );

  test(
    "shutdown: the node exits 0 and its TUN is gone",
    guard(async () => {
      const host = byId[3]!;
      const id = d.ids.get(host)!;
      const t0 = Date.now();
      const r = await d.demo.admin(["shutdown", id.slice(0, 12)]);
      expect(r.code).toBe(0);
      const code = await Promise.race([
        d.demo.nodes.get(host)!.proc.exited,
        Bun.sleep(10_000).then(() => -1),
      ]);
      const exitMs = Date.now() - t0;
      const link = await d.mesh.exec(host, ["ip", "link", "show", "veil0"]);
      report(
        `shutdown ${host}: exit ${code} ${exitMs} ms after the command; veil0 present: ${link.code === 0}`,
      );
      expect(code).toBe(0);
      expect(link.code).not.toBe(0);
    }),
    60_000,
  );

  /** Epoch ms of the first (or last) line of `host`'s log that contains `marker` (lines start with an ISO time). */
  async function logTime(host: string, marker: string, which: "first" | "last" = "first"): Promise<number> {
    const lines = (await Bun.file(d.demo.logPath(host)).text()).split("\n").filter((l) => l.includes(marker));
    const line = which === "first" ? lines[0] : lines.at(-1);
    return line ? Date.parse(line.split(" ")[0]!) : Number.NaN;
  }

  async function rxFrom(peers: readonly string[], id: string): Promise<number[]> {
    return Promise.all(
      peers.map(async (p) => peersOf(await d.demo.localStatus(p)).find((x) => x.id === id)?.rxPackets ?? 0),
    );
  }
});

/** Polls `ok` every 50 ms; resolves with the elapsed ms, or undefined after `timeoutMs`. */
async function until(timeoutMs: number, ok: () => Promise<boolean>): Promise<number | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 <= timeoutMs) {
    if (await ok()) return Date.now() - t0;
    await Bun.sleep(50);
  }
  return undefined;
}
