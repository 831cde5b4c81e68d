/**
 * Enrolment against a real nats-server in operator mode: credentials work (JWT + mTLS), node
 * permissions hold, realms are isolated by the servers, and refused tokens write nothing.
 */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { nodeAddress6 } from "../../anchor/address6.ts";
import { decodeCertificate } from "../../anchor/certificate.ts";
import { Identity, verifyHybrid } from "../../anchor/identity.ts";
import { ControlConnection, Subjects } from "../../control/index.ts";
import { enrol } from "../../guardian-api/client.ts";
import type { GuardianApiError } from "../../guardian-api/errors.ts";
import { generateNodeKeys } from "../../guardian-api/node-keys.ts";
import { controlConnectOptions } from "../../guardian-api/renewer.ts";
import { fromB64u } from "../../guardian-api/signed-json.ts";
import { type Harness, startHarness } from "./testing/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ realms: ["alpha", "beta"] });
}, 30_000);
afterAll(async () => {
  await h?.stop();
});

const collect = (conn: ControlConnection, subject: string) => {
  const got: string[] = [];
  conn.subscribe(subject, (m) => got.push(`${m.subject}:${new TextDecoder().decode(m.data)}`));
  return got;
};

describe("guardian enrolment with a real nats-server", () => {
  test("a node enrols, connects with JWT + mTLS, is limited to its subjects, and realms are isolated", async () => {
    const a1 = await h.enrolNode("alpha");
    const a2 = await h.enrolNode("alpha");
    const b1 = await h.enrolNode("beta");

    // The Anchor certificate is the Guardian's, for these keys, with the allocated addresses.
    const cert = decodeCertificate(fromB64u(a1.creds.anchorCertificate, "cert"));
    expect(Buffer.from(cert.nodeId).toString("hex")).toBe(a1.creds.nodeId);
    expect(cert.realm).toBe("alpha");
    const g = h.daemon.authority.identity;
    expect(
      verifyHybrid(
        cert.signature,
        cert.bytes.subarray(0, cert.signedLength),
        "veilnet certificate v1",
        g.ed25519Public,
        g.mldsa65Public,
      ),
    ).toBe(true);
    expect(a1.creds.ipv4).toMatch(/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);
    expect(a1.creds.ipv6).toBe(nodeAddress6("alpha", a1.keys.identity.nodeId));
    expect(a1.creds.expiresAt - a1.creds.issuedAt).toBeLessThanOrEqual(3_600_000);

    const c1 = await ControlConnection.connect(controlConnectOptions(a1.creds, a1.keys));
    const c2 = await ControlConnection.connect(controlConnectOptions(a2.creds, a2.keys));
    const cb = await ControlConnection.connect(controlConnectOptions(b1.creds, b1.keys));
    try {
      const seenA2 = collect(c2, Subjects.presenceAll);
      const seenB1 = collect(cb, Subjects.presenceAll);
      const errors: string[] = [];
      c1.onEvent((e) => e.type === "error" && errors.push(e.message));
      (async () => {
        for await (const s of c1.nc.status()) if (s.type === "error") errors.push(String(s.data));
      })();
      await c2.flush();
      await cb.flush();

      c1.publish(Subjects.presence(a1.creds.nodeId), new TextEncoder().encode("own"));
      c1.publish(Subjects.presence(a2.creds.nodeId), new TextEncoder().encode("spoofed")); // not its subject
      cb.publish(Subjects.presence(b1.creds.nodeId), new TextEncoder().encode("beta"));
      c1.subscribe(Subjects.signal(a2.creds.nodeId), () => errors.push("received someone else's signal"));
      await c1.flush();
      await Bun.sleep(300);

      expect(seenA2).toEqual([`${Subjects.presence(a1.creds.nodeId)}:own`]);
      expect(seenB1).toEqual([`${Subjects.presence(b1.creds.nodeId)}:beta`]); // nothing from realm alpha
      expect(errors.join("\n")).toContain("Permissions Violation");
      expect(errors.some((e) => /subscription/i.test(e) || /Subscription/.test(e))).toBe(true);
    } finally {
      await Promise.all([c1.close(), c2.close(), cb.close()]);
    }
  });

  test("reused, expired and wrong-realm tokens are refused with 4xx and nothing is written", async () => {
    const db = new Database(join(h.dir, "state", "guardian.db"), { readonly: true });
    const snapshot = () =>
      JSON.stringify([
        db.query("SELECT count(*) n FROM nodes").get(),
        db.query("SELECT count(*) n, total(uses) u FROM tokens").get(),
        db.query("SELECT count(*) n FROM token_uses").get(),
        db.query("SELECT max(seq) s FROM audit").get(),
      ]);
    const used = h.token("alpha");
    await h.enrolNode("alpha", used);
    const expired = h.token("alpha", { ttlMs: 1 });
    const betaToken = h.token("beta");
    const fresh = h.token("alpha");
    await Bun.sleep(5);
    const before = snapshot();

    const attempt = async (token: string, realm: string) => {
      const keys = await generateNodeKeys(Identity.generate());
      try {
        await enrol(h.endpoint, { token, realm, keys });
      } catch (err) {
        return err as GuardianApiError;
      }
      throw new Error("enrolment was accepted");
    };
    const reused = await attempt(used, "alpha");
    expect([reused.status, reused.code]).toEqual([409, "TOKEN_USED"]);
    expect(reused.message).toContain("already been used");
    const old = await attempt(expired, "alpha");
    expect([old.status, old.code]).toEqual([401, "TOKEN_EXPIRED"]);
    const wrong = await attempt(betaToken, "alpha");
    expect([wrong.status, wrong.code]).toEqual([403, "TOKEN_WRONG_REALM"]);
    const unknown = await attempt(`vnt1_${"A".repeat(43)}`, "alpha");
    expect([unknown.status, unknown.code]).toEqual([401, "TOKEN_INVALID"]);

    // A forged proof of possession: signed by another identity than the keys it carries.
    const keys = await generateNodeKeys(Identity.generate());
    const other = await generateNodeKeys(Identity.generate());
    const res = await fetch(`${h.endpoint.url}/v1/enrol`, {
      method: "POST",
      body: JSON.stringify(await forgedEnrol(fresh, keys, other)),
      tls: { ca: h.endpoint.caPem },
    } as RequestInit);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ENROL_BAD_SIGNATURE");

    expect(snapshot()).toBe(before);
    db.close();
  });
});

async function forgedEnrol(
  token: string,
  keys: Awaited<ReturnType<typeof generateNodeKeys>>,
  signer: typeof keys,
) {
  const { signJson } = await import("../../guardian-api/signed-json.ts");
  const { encodePublicKeys, ENROL_CONTEXT } = await import("../../guardian-api/wire.ts");
  const body = {
    v: 1,
    type: "enrol",
    token,
    realm: "alpha",
    publicKeys: encodePublicKeys(keys.identity.publicKeys),
    natsPublicKey: keys.natsPublicKey,
    tlsPublicKey: keys.tlsPublicKeyPem,
    issuedAt: Date.now(),
  };
  return signJson(signer.identity, ENROL_CONTEXT, body);
}
