import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "./_bytes.ts";
import { realmPrefix6 } from "./address6.ts";
import { decodeCertificate } from "./certificate.ts";
import { CertificateCache, verifyCertificate } from "./certificate-verify.ts";
import { cookieKey, mac1Of, openCookieReply, parseCookieReply } from "./cookie.ts";
import { parseFragment } from "./fragment.ts";
import { HandshakeResponder } from "./handshake-responder.ts";
import { TimestampSource } from "./handshake-types.ts";
import { Identity } from "./identity.ts";
import { trustedIssuers } from "./issuer.ts";
import { verifyRevocationList } from "./revocation.ts";
import { seededRng } from "./rng.ts";
import {
  buildVectors,
  VECTOR_NOW_MS,
  VECTOR_REALM,
  VECTOR_SOURCE,
  vectorLocals,
} from "./vectors/handshake-vectors.ts";

const dir = join(import.meta.dir, "vectors");
const load = (name: string) => JSON.parse(readFileSync(join(dir, name), "utf8"));
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
const FILES = [
  "certificate.json",
  "revocation-list.json",
  "handshake-initiation.json",
  "cookie-reply.json",
  "handshake-response.json",
];

describe("test vectors", () => {
  test("regenerating from the fixed seeds reproduces every stored vector byte for byte", () => {
    const built = buildVectors();
    for (const f of FILES) expect(JSON.parse(JSON.stringify(built[f]))).toEqual(load(f));
  });

  const cert = load("certificate.json");
  const guardian = Identity.fromSecret(bytes(cert.guardian_secret));
  const trust = { realmKeys: trustedIssuers(guardian), realm: VECTOR_REALM, now: VECTOR_NOW_MS / 1000 };

  test("stored certificates and revocation list decode and verify", () => {
    expect(realmPrefix6(VECTOR_REALM)).toBe(cert.realm_prefix6);
    for (const c of cert.certificates) {
      const d = decodeCertificate(bytes(c.bytes));
      expect(toHex(d.id)).toBe(c.id);
      expect(toHex(d.nodeId)).toBe(c.node_id);
      verifyCertificate(d, { ...trust, cache: new CertificateCache() });
    }
    const list = verifyRevocationList(bytes(load("revocation-list.json").bytes), trust);
    expect(list.sequence).toBe(7);
    expect(list.entries.length).toBe(2);
  });

  test("stored cookie reply opens, and the stored mac2 values are HMACs under that cookie", () => {
    const v = load("cookie-reply.json");
    const responderCert = decodeCertificate(bytes(cert.certificates[1].bytes));
    const answered = bytes(v.answers_fragment);
    const cookie = openCookieReply(
      parseCookieReply(bytes(v.bytes)),
      cookieKey(responderCert.publicKeys),
      mac1Of(answered),
    );
    expect(cookie.length).toBe(16);
    const init = load("handshake-initiation.json");
    for (const h of init.fragments_with_mac2) {
      const d = bytes(h);
      const mac2 = new Uint8Array(
        createHmac("sha256", cookie)
          .update(d.subarray(0, d.length - 16))
          .digest(),
      ).subarray(0, 16);
      expect(toHex(d.subarray(d.length - 16))).toBe(toHex(mac2));
      expect(parseFragment(d).handshakeId).toBe(init.handshake_id);
    }
  });

  test("a fresh responder fed the stored initiation emits the stored response and keys", () => {
    const locals = vectorLocals();
    const responder = new HandshakeResponder(
      {
        ...locals.responder,
        rng: seededRng("veilnet vector responder rng"),
        timestamps: new TimestampSource(),
      },
      VECTOR_NOW_MS,
    );
    const init = load("handshake-initiation.json");
    const resp = load("handshake-response.json");
    const reply = responder.receive(
      bytes(init.fragments_without_mac2[0]),
      VECTOR_SOURCE,
      VECTOR_NOW_MS,
      true,
    );
    expect(reply.kind === "send" && toHex(reply.datagrams[0] as Uint8Array)).toBe(
      load("cookie-reply.json").bytes,
    );
    let out = responder.receive(bytes(init.fragments_with_mac2[0]), VECTOR_SOURCE, VECTOR_NOW_MS + 2, true);
    for (const h of init.fragments_with_mac2.slice(1))
      out = responder.receive(bytes(h), VECTOR_SOURCE, VECTOR_NOW_MS + 2, true);
    if (out.kind !== "established") throw new Error(out.kind);
    expect(out.datagrams.map(toHex)).toEqual(resp.fragments);
    expect(toHex(out.keys.sendKey)).toBe(resp.responder_keys.send_key);
    expect(resp.initiator_keys.send_key).toBe(resp.responder_keys.recv_key);
    expect(resp.initiator_keys.recv_key).toBe(resp.responder_keys.send_key);
  });
});
