/**
 * Short-lived credentials against a real nats-server: the server disconnects a node whose JWT
 * expired, and a node that renews at half-life keeps its connection across three lifetimes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ControlConnection, Subjects } from "../../control/index.ts";
import { CredentialRenewer, connectControl, controlConnectOptions } from "../../guardian-api/renewer.ts";
import { type Harness, startHarness } from "./testing/harness.ts";

// 3 s: the NATS JWT names the second before the credential's expiry (credentials.ts), so its usable
// life is 1–2 s and a 2 s credential issued late in a second could be dropped at its first connect.
const TTL_MS = 3_000;
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ realms: ["alpha"], ttlMs: TTL_MS });
});
afterAll(async () => {
  await h?.stop();
});

test("the server disconnects a node whose JWT expired; a renewing node stays connected for three lifetimes", async () => {
  const stale = await h.enrolNode("alpha");
  const lively = await h.enrolNode("alpha");
  const watcher = await h.enrolNode("alpha");

  const staleConn = await ControlConnection.connect(
    controlConnectOptions(stale.creds, stale.keys, { reconnectTimeWaitMs: 100 }),
  );
  // The server sends -ERR 'User Authentication Expired' and closes; the reconnect is refused too.
  const staleStatus: string[] = [];
  let staleDisconnectedAt = 0;
  let staleReconnected = false;
  void (async () => {
    for await (const s of staleConn.nc.status()) {
      staleStatus.push(`${s.type}:${String(s.data).slice(0, 40)}`);
      if (s.type === "disconnect" && !staleDisconnectedAt) staleDisconnectedAt = performance.now();
      // Under load the server may drop a connection early (ping timeout) and the client may come back
      // while its JWT is still valid; what must never happen is a reconnect once the JWT has expired.
      if (s.type === "reconnect" && Date.now() >= stale.creds.expiresAt) staleReconnected = true;
    }
  })();
  const renewers = [lively, watcher].map(
    (n) => new CredentialRenewer({ endpoint: h.endpoint, keys: n.keys, credentials: n.creds }),
  );
  const [rl, rw] = renewers as [CredentialRenewer, CredentialRenewer];
  const livelyConn = await connectControl(rl);
  const watchConn = await connectControl(rw);
  for (const r of renewers) r.start();
  const events: string[] = [];
  livelyConn.onEvent((e) => events.push(e.type));

  const arrivals: number[] = [];
  watchConn.subscribe(Subjects.presence(lively.creds.nodeId), () => arrivals.push(performance.now()));
  await watchConn.flush();
  const started = performance.now();
  let sent = 0;
  const pump = setInterval(() => {
    livelyConn.publish(Subjects.presence(lively.creds.nodeId), new TextEncoder().encode(String(sent++)));
  }, 20);

  while (!staleDisconnectedAt && performance.now() - started < TTL_MS + 3_000) await Bun.sleep(50);
  const closedAt = staleDisconnectedAt;
  expect(closedAt).toBeGreaterThan(0);
  expect(closedAt - started).toBeLessThan(TTL_MS + 2_500);
  expect(staleStatus.join(" ")).toContain("error:AUTHENTICATION_EXPIRED");

  await Bun.sleep(3 * TTL_MS + 500 - (performance.now() - started));
  clearInterval(pump);
  await Bun.sleep(100);
  for (const r of renewers) r.stop();
  expect(staleReconnected).toBe(false);

  expect(rl.renewals).toBeGreaterThanOrEqual(5);
  expect(livelyConn.nc.isClosed()).toBe(false);
  let maxGap = 0;
  for (let i = 1; i < arrivals.length; i++) maxGap = Math.max(maxGap, arrivals[i]! - arrivals[i - 1]!);
  console.log(
    `${staleStatus.join(" | ")}\nexpiry: stale disconnected after ${(closedAt - started).toFixed(0)} ms; renewals=${rl.renewals}; delivered ${arrivals.length}/${sent}; max gap ${maxGap.toFixed(0)} ms; events=${events.join(",")}`,
  );
  expect(arrivals.length).toBeGreaterThan(sent * 0.95);
  expect(maxGap).toBeLessThan(500);
  await Promise.all([livelyConn.close(), watchConn.close(), staleConn.close().catch(() => undefined)]);
}, 30_000);
