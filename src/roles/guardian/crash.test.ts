/**
 * SIGKILL mid-enrolment: a Guardian process is killed while enrolments are in flight, restarted on
 * the same state, and the database must be whole: no half-written node, no token used beyond its
 * limit, every node with its token use and audit entry, and nodes that lost their answer can retry.
 */

import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Identity } from "../../anchor/identity.ts";
import { enrol } from "../../guardian-api/client.ts";
import { generateNodeKeys, type NodeKeys } from "../../guardian-api/node-keys.ts";
import { createRealm, initState, openAuthority } from "./authority.ts";
import { hashToken, newToken } from "./tokens.ts";

const dir = mkdtempSync(join(tmpdir(), "vn-guardian-crash-"));
const state = join(dir, "state");
const CLI = join(import.meta.dir, "../../cli.ts");
const started: Bun.Subprocess[] = [];
afterAll(() => {
  for (const p of started) if (p.exitCode === null) p.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function startGuardian(port: number): Promise<Bun.Subprocess> {
  const proc = Bun.spawn(
    [process.execPath, CLI, "--role", "guardian", "run", "--state", state, "--listen", `127.0.0.1:${port}`],
    { stdout: "pipe", stderr: "inherit" },
  );
  started.push(proc);
  const reader = proc.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 15_000;
  while (!text.includes("listening") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  void proc.stdout.pipeTo(new WritableStream()).catch(() => undefined);
  if (!text.includes("listening")) throw new Error(`guardian did not start: ${text}`);
  return proc;
}

test("a Guardian killed with SIGKILL mid-enrolment restarts with whole state", async () => {
  await initState(state, {
    operatorName: "crash",
    apiDnsNames: ["localhost"],
    apiIpAddresses: ["127.0.0.1"],
  });
  const a = await openAuthority(state);
  createRealm(a, "alpha", "test");
  const single = newToken();
  const shared = newToken();
  const SHARED_USES = 25;
  a.store.createToken(
    {
      hash: hashToken(single),
      realm: "alpha",
      taints: [],
      maxUses: 1,
      expiresAt: Date.now() + 600_000,
      label: "single",
    },
    "test",
    Date.now(),
  );
  a.store.createToken(
    {
      hash: hashToken(shared),
      realm: "alpha",
      taints: ["edge"],
      maxUses: SHARED_USES,
      expiresAt: Date.now() + 600_000,
      label: "shared",
    },
    "test",
    Date.now(),
  );
  const endpoint = { url: "", caPem: a.trust.ca.certPem };
  a.close();

  const keys: NodeKeys[] = [];
  for (let i = 0; i < 40; i++) keys.push(await generateNodeKeys(Identity.generate()));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const guardian = await startGuardian(port);
  const ep = { ...endpoint, url: `https://127.0.0.1:${port}` };

  // 10 nodes race for the single-use token, 30 for the 25-use token; kill once answers flow.
  const outcomes = keys.map((k, i) =>
    enrol(ep, { token: i < 10 ? single : shared, realm: "alpha", keys: k }).then(
      () => "ok",
      (e: { code?: string }) => e.code ?? "error",
    ),
  );
  let firstOk = false;
  for (const o of outcomes)
    void o.then((r) => {
      if (r === "ok") firstOk = true;
    });
  const killDeadline = Date.now() + 10_000;
  while (!firstOk && Date.now() < killDeadline) await Bun.sleep(2);
  await Bun.sleep(15);
  guardian.kill("SIGKILL");
  await guardian.exited;
  const before = await Promise.all(outcomes);
  const answered = before.filter((r) => r === "ok").length;

  const check = () => {
    const db = new Database(join(state, "guardian.db"), { readonly: true });
    try {
      expect((db.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check).toBe(
        "ok",
      );
      const tokens = db
        .query(
          "SELECT label, uses, max_uses, (SELECT count(*) FROM token_uses u WHERE u.token_hash = t.hash) AS n FROM tokens t",
        )
        .all() as { label: string; uses: number; max_uses: number; n: number }[];
      for (const t of tokens) {
        expect(t.uses).toBe(t.n);
        expect(t.uses).toBeLessThanOrEqual(t.max_uses);
      }
      const nodes = db
        .query(
          "SELECT n.*, (SELECT count(*) FROM token_uses u WHERE u.node_id = n.id) AS uses, (SELECT count(*) FROM audit a WHERE a.target = n.id AND a.action = 'node.enrol') AS audited FROM nodes n",
        )
        .all() as Record<string, unknown>[];
      for (const n of nodes) {
        expect(n.uses).toBe(1);
        expect(n.audited).toBe(1);
        expect((n.mldsa65 as Uint8Array).length).toBe(1952);
        expect(String(n.nats_public)).toMatch(/^U/);
        expect(Number(n.expires_at)).toBeGreaterThan(0);
      }
      return { nodes: nodes.length, single: tokens.find((t) => t.label === "single")!.uses };
    } finally {
      db.close();
    }
  };
  const afterKill = check();
  expect(afterKill.nodes).toBeGreaterThanOrEqual(answered);
  expect(answered).toBeLessThan(1 + SHARED_USES); // the kill landed while enrolments were in flight
  expect(afterKill.single).toBeLessThanOrEqual(1);

  // Restart; every node retries. Those whose enrolment committed get credentials again (same
  // token, no new use); the rest compete for what is left. Totals never exceed the limits.
  const again = await startGuardian(port);
  const retries = await Promise.all(
    keys.map((k, i) =>
      enrol(ep, { token: i < 10 ? single : shared, realm: "alpha", keys: k }).then(
        () => "ok",
        (e: { code?: string }) => e.code ?? "error",
      ),
    ),
  );
  const final = check();
  expect(final.single).toBe(1);
  expect(final.nodes).toBe(1 + SHARED_USES);
  expect(retries.filter((r) => r === "ok").length).toBe(1 + SHARED_USES);
  expect(retries.filter((r) => r !== "ok").every((r) => r === "TOKEN_USED")).toBe(true);
  console.log(
    `crash: ${answered} answered before SIGKILL, ${afterKill.nodes} committed, ${final.nodes} after retries`,
  );
  again.kill("SIGTERM");
  await again.exited;
}, 90_000);
