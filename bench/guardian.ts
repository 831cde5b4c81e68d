/**
 * Guardian benchmark: enrolments per second through the HTTPS API (sequential and 4 concurrent
 * clients), and admin-command round-trip latency through a real nats-server (Guardian → sealed
 * command → node → signed, sealed answer → Guardian, verified). Last line: key=value summary.
 *
 *   bun run bench/guardian.ts [--enrolments N] [--commands N]
 */
import { Identity } from "../src/anchor/identity.ts";
import { ControlConnection } from "../src/control/index.ts";
import { AdminVerb } from "../src/guardian-api/admin-protocol.ts";
import { AdminResponder } from "../src/guardian-api/admin-responder.ts";
import { enrol } from "../src/guardian-api/client.ts";
import { generateNodeKeys, type NodeKeys } from "../src/guardian-api/node-keys.ts";
import { controlConnectOptions } from "../src/guardian-api/renewer.ts";
import { sendAdminCommand } from "../src/roles/guardian/admin/actions.ts";
import { startHarness } from "../src/roles/guardian/testing/harness.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ENROLMENTS = arg("enrolments", 60);
const COMMANDS = arg("commands", 100);

// The cost floor on this machine right now: one hybrid signature (Ed25519 + ML-DSA-65). An
// enrolment costs two (node proof + certificate), an admin round trip two signatures + two checks.
const probe = Identity.generate();
const s0 = performance.now();
for (let i = 0; i < 10; i++) probe.sign(new Uint8Array(4096), "bench");
const signMs = (performance.now() - s0) / 10;

const h = await startHarness({ realms: ["bench"] });
try {
  const keys: NodeKeys[] = [];
  for (let i = 0; i < ENROLMENTS * 2; i++) keys.push(await generateNodeKeys(Identity.generate()));
  const token = h.token("bench", { uses: ENROLMENTS * 2 });

  let t0 = performance.now();
  for (let i = 0; i < ENROLMENTS; i++) await enrol(h.endpoint, { token, realm: "bench", keys: keys[i]! });
  const seqPerS = ENROLMENTS / ((performance.now() - t0) / 1000);

  t0 = performance.now();
  let next = ENROLMENTS;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < ENROLMENTS * 2) {
        const k = keys[next++]!;
        await enrol(h.endpoint, { token, realm: "bench", keys: k });
      }
    }),
  );
  const parPerS = ENROLMENTS / ((performance.now() - t0) / 1000);
  console.log(`enrolments: sequential ${seqPerS.toFixed(1)}/s, 4 concurrent ${parPerS.toFixed(1)}/s`);

  // Admin round trips to one node.
  const n = await h.enrolNode("bench");
  const conn = await ControlConnection.connect(controlConnectOptions(n.creds, n.keys));
  const responder = new AdminResponder({
    identity: n.keys.identity,
    realm: "bench",
    guardian: n.creds.guardian,
    connection: conn,
    handler: {
      query: () => ({ ok: true }),
      taint: () => ({}),
      untaint: () => ({}),
      quarantine: () => ({}),
      release: () => ({}),
      invalidate: () => ({}),
      revoke: () => ({}),
      shutdown: () => ({}),
    },
  });
  responder.start();
  await conn.flush();
  const node = h.daemon.authority.store.node(n.creds.nodeId)!;
  const link = h.daemon.link!;
  await sendAdminCommand(link, node, AdminVerb.Query); // warm up (connection, key caches)
  const rtts: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < COMMANDS; i++) {
    const w0 = performance.now();
    const { answer, rttMs } = await sendAdminCommand(link, node, AdminVerb.Query);
    if (!answer.ok) throw new Error("admin command failed");
    wall.push(performance.now() - w0);
    rtts.push(rttMs);
  }
  rtts.sort((x, y) => x - y);
  wall.sort((x, y) => x - y);
  const pct = (a: number[], p: number) => a[Math.min(a.length - 1, Math.floor(a.length * p))]!;
  console.log(
    `admin query: rtt p50 ${pct(rtts, 0.5).toFixed(2)} ms p99 ${pct(rtts, 0.99).toFixed(2)} ms (with signing: p50 ${pct(wall, 0.5).toFixed(2)} ms)`,
  );
  responder.stop();
  await conn.close();
  console.log(
    `enrol_seq_per_s=${seqPerS.toFixed(1)} enrol_par4_per_s=${parPerS.toFixed(1)} admin_rtt_p50_ms=${pct(rtts, 0.5).toFixed(2)} admin_rtt_p99_ms=${pct(rtts, 0.99).toFixed(2)} admin_total_p50_ms=${pct(wall, 0.5).toFixed(2)} hybrid_sign_ms=${signMs.toFixed(1)} enrolments=${ENROLMENTS * 2} commands=${COMMANDS}`,
  );
} finally {
  await h.stop();
}
