/**
 * The local control commands against a real node of a deployment: `veilnet sessions` (table and
 * --json), `veilnet metrics` (parsed back as exposition text), `veilnet events --follow --json`
 * reading until the session-up of a restarted peer, and the one-line error when no node runs.
 * Run as the deployment's veilnet command (the compiled binary when it is current).
 */
import { expect } from "bun:test";
import { parseExposition } from "../../src/roles/conflux/prometheus-text.ts";
import { waitFor } from "../demo/demo-mesh.ts";
import { type Deployment, ping } from "./_deployment.ts";

interface SessionRow {
  peer: string;
  localIndex: number;
  remoteIndex: number;
  initiator: boolean;
  establishedAgoS: number;
  rekeyDueInS: number;
  sendCounter: number;
  suite: string;
}

interface EventLine {
  seq: number;
  at: number;
  type: string;
  peer?: string;
  detail: Record<string, unknown>;
}

export async function checkLocalCli(
  d: Deployment,
  host: string,
  restart: string,
  report: (line: string) => void,
): Promise<void> {
  const cli = d.command.argv;
  const state = d.demo.nodes.get(host)!.stateDir;
  const run = (args: string[]) =>
    d.mesh.exec(host, [...cli, ...args, "--state", state], { timeoutMs: 15_000 });
  const others = [...d.ids].filter(([h]) => h !== host).map(([, id]) => id);

  // Some traffic first, so every session has counted packets both ways.
  const pings = await Promise.all(
    [...d.ips].filter(([h]) => h !== host).map(([, ip]) => ping(d.mesh, host, ip, { count: 2 })),
  );
  expect(pings.every((p) => p.received === 2)).toBe(true);

  // sessions: one row per peer, with indices, role, age, rekey due, send counter, suite.
  const t0 = performance.now();
  const sj = await run(["sessions", "--json"]);
  expect(sj.code).toBe(0);
  const sessions = JSON.parse(sj.stdout) as SessionRow[];
  expect(sessions.map((s) => s.peer).sort()).toEqual([...others].sort());
  for (const s of sessions) {
    expect(s.localIndex).toBeGreaterThanOrEqual(0);
    expect(s.remoteIndex).toBeGreaterThanOrEqual(0);
    expect(typeof s.initiator).toBe("boolean");
    expect(s.sendCounter).toBeGreaterThan(2); // keepalive + 2 echo replies at least
    expect(s.suite).toContain("aes-256-gcm");
  }
  const table = await run(["sessions"]);
  expect(table.code).toBe(0);
  const lines = table.stdout.trimEnd().split("\n");
  expect(lines[0]).toMatch(/^PEER\s+IPV4\s+ENDPOINT\s+ROLE\s+LOCAL IDX\s+REMOTE IDX/);
  expect(lines).toHaveLength(1 + others.length);
  report(`veilnet sessions on ${host}:\n${table.stdout.trimEnd()}`);

  // metrics: valid exposition text whose gauges agree with the sessions.
  const mt = await run(["metrics"]);
  expect(mt.code).toBe(0);
  const families = parseExposition(mt.stdout).families;
  const value = (name: string, labels: Record<string, string> = {}) =>
    families.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      ?.value;
  expect(value("veilnet_sessions")).toBe(others.length);
  expect(value("veilnet_peers", { state: "up" })).toBe(others.length);
  expect(value("veilnet_dataplane_packets_total", { direction: "rx" })).toBeGreaterThan(0);
  const perPeer = families.get("veilnet_peer_received_packets_total")?.samples ?? [];
  expect(perPeer).toHaveLength(others.length);
  for (const p of perPeer) expect(p.value).toBeGreaterThanOrEqual(2);
  expect(value("veilnet_process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
  report(
    `veilnet metrics on ${host}: ${families.size} families, ${mt.stdout.split("\n").length - 1} lines, ` +
      `RSS ${Math.round(value("veilnet_process_resident_memory_bytes")! / 1048576)} MiB ` +
      `(sessions/metrics CLI runs took ${Math.round(performance.now() - t0)} ms in all)`,
  );

  // events --follow: stream while a peer restarts, until its new session is up.
  const restartId = d.ids.get(restart)!;
  const follower = d.mesh.spawn(host, [
    ...cli,
    "events",
    "--follow",
    "--json",
    "--limit",
    "0",
    "--state",
    state,
  ]);
  const seen: EventLine[] = [];
  const reading = readLines(follower.stdout, (line) => {
    try {
      seen.push(JSON.parse(line) as EventLine);
    } catch {
      seen.push({ seq: -1, at: 0, type: `unparsed: ${line}`, detail: {} });
    }
  });
  try {
    await waitFor("the follower to be connected", 10_000, async () => {
      const text = (await d.demo.localQuery(host, "metrics")) as unknown;
      return typeof text === "string" && /^veilnet_event_followers 1$/m.test(text);
    });
    const stoppedAt = Date.now();
    expect(await d.demo.stopNode(restart)).toBe(0);
    d.demo.startNode(restart);
    const upMs = await waitFor(`a session.up event for ${restart} on ${host}`, 30_000, async () =>
      seen.some((e) => e.type === "session.up" && e.peer === restartId && e.at >= stoppedAt),
    );
    const mine = seen.filter((e) => e.peer === restartId);
    report(
      `events --follow on ${host} while ${restart} restarted (session.up after ${Math.round(upMs)} ms): ` +
        mine.map((e) => `${e.type}${e.detail.reason ? `(${e.detail.reason})` : ""}`).join(", "),
    );
    expect(seen.every((e) => e.seq > 0)).toBe(true);
    // The old session went down (the peer said goodbye or restarted with a new epoch) before the new one.
    const down = mine.findIndex((e) => e.type === "session.down");
    const up = mine.findIndex((e) => e.type === "session.up");
    expect(down).toBeGreaterThanOrEqual(0);
    expect(down).toBeLessThan(up);
    expect(mine[up]!.detail.localIndex).toBeGreaterThanOrEqual(0);
  } finally {
    // SIGTERM ends --follow like Ctrl-C: the CLI closes the stream and exits 0.
    const code = await follower.stop(3000);
    await reading;
    expect(code).toBe(0);
  }

  // The stored ring has the same events for a later `veilnet events`.
  const stored = await run(["events", "--json"]);
  expect(stored.code).toBe(0);
  const ring = stored.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as EventLine);
  expect(ring.some((e) => e.type === "session.up" && e.peer === restartId)).toBe(true);

  // No node behind the state directory: one line, exit 1, no stack.
  const none = await d.mesh.exec(host, [...cli, "sessions", "--state", `${state}/nonexistent`]);
  expect(none.code).toBe(1);
  expect(none.stderr.trim().split("\n")).toHaveLength(1);
  expect(none.stderr).toContain("no node is running");
  report(`without a node: ${none.stderr.trim()}`);
  await d.demo.waitForSessions([...d.ids.keys()], 60_000);
}

async function readLines(stream: ReadableStream<Uint8Array> | null, onLine: (line: string) => void) {
  if (!stream) return;
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n")) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (line) onLine(line);
    }
  }
}
