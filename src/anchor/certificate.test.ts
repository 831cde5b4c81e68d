import { describe, expect, test } from "bun:test";
import { toHex } from "./_bytes.ts";
import { nodeAddress6Bytes } from "./address6.ts";
import {
  CERTIFICATE_MAX_SIZE,
  CERTIFICATE_MIN_SIZE,
  decodeCertificate,
  formatIPv4,
  issueCertificate,
} from "./certificate.ts";
import { CertificateCache, verifyCertificate } from "./certificate-verify.ts";
import {
  CertificateBadSignature,
  CertificateError,
  CertificateExpired,
  CertificateMalformed,
  CertificateMissingTaint,
  CertificateNotYetValid,
  CertificateRevoked,
  CertificateUnknownIssuer,
  CertificateWrongRealm,
} from "./errors.ts";
import { alice, aliceCert, guardian, issue, NOW_S, REALM } from "./handshake.fixture.ts";
import { ED25519_SIGNATURE_SIZE, Identity } from "./identity.ts";
import { trustedIssuers } from "./issuer.ts";
import { RevocationSet } from "./revocation.ts";
import { seededRng } from "./rng.ts";

const opts = (extra = {}) => ({
  realmKeys: trustedIssuers(guardian),
  realm: REALM,
  now: NOW_S,
  cache: new CertificateCache(),
  ...extra,
});

describe("certificate encoding", () => {
  test("issue → bytes → decode round trip, canonical, derived addresses", () => {
    const c = issue(alice, { taints: ["web", "db", "web"], ipv4: "100.127.1.2" });
    expect(c.taints).toEqual(["db", "web"]);
    expect(formatIPv4(c.ipv4)).toBe("100.127.1.2");
    expect(toHex(c.ipv6)).toBe(toHex(nodeAddress6Bytes(REALM, alice.nodeId)));
    expect(toHex(c.nodeId)).toBe(toHex(alice.nodeId));
    const again = decodeCertificate(c.bytes);
    expect(toHex(again.id)).toBe(toHex(c.id));
    expect(c.bytes.length).toBeGreaterThanOrEqual(CERTIFICATE_MIN_SIZE);
    expect(c.bytes.length).toBeLessThanOrEqual(CERTIFICATE_MAX_SIZE);
  });

  test("malformed encodings are CertificateMalformed with distinct codes", () => {
    const b = aliceCert.bytes;
    const codes = new Set<string>();
    const expectMalformed = (bytes: Uint8Array) => {
      try {
        decodeCertificate(bytes);
        throw new Error("decoded");
      } catch (e) {
        expect(e).toBeInstanceOf(CertificateMalformed);
        codes.add((e as CertificateMalformed).code);
      }
    };
    expectMalformed(b.subarray(0, b.length - 1));
    expectMalformed(new Uint8Array([...b, 0]));
    const magic = Uint8Array.from(b);
    magic[0] = 0;
    expectMalformed(magic);
    const node = Uint8Array.from(b);
    node[5] = (node[5] as number) ^ 1;
    expectMalformed(node);
    expect(codes.size).toBe(4);
    expect(() => issue(alice, { ipv4: "10.0.0.1" })).toThrow(CertificateMalformed);
    expect(() => issue(alice, { taints: ["Bad Taint"] })).toThrow(CertificateMalformed);
    expect(() => issue(alice, { notBefore: NOW_S, notAfter: NOW_S })).toThrow(CertificateMalformed);
    expect(() => issue(alice, { realm: "x".repeat(65) })).toThrow(CertificateMalformed);
  });
});

describe("verifyCertificate", () => {
  test("accepts a good certificate and caches the signature check", () => {
    const o = opts({ requiredTaints: ["web"] });
    expect(toHex(verifyCertificate(aliceCert.bytes, o).id)).toBe(toHex(aliceCert.id));
    verifyCertificate(aliceCert.bytes, o);
    verifyCertificate(aliceCert, o);
    expect(o.cache.signatureChecks).toBe(1);
    expect(o.cache.hits).toBe(2);
  });

  test("each rejection reason has its own typed error", () => {
    const revoked = new RevocationSet();
    revoked.revokeCertificate(aliceCert.id);
    const rogue = Identity.generate(seededRng("rogue"));
    const sigFlip = (at: number) => {
      const b = Uint8Array.from(aliceCert.bytes);
      b[at] = (b[at] as number) ^ 1;
      return b;
    };
    const sigStart = aliceCert.signedLength;
    const cases: [Uint8Array, object, new (...a: never[]) => Error][] = [
      [issue(alice, { notBefore: NOW_S - 100, notAfter: NOW_S - 1 }).bytes, {}, CertificateExpired],
      [issue(alice, { notBefore: NOW_S + 1, notAfter: NOW_S + 100 }).bytes, {}, CertificateNotYetValid],
      [aliceCert.bytes, { revoked }, CertificateRevoked],
      [issue(alice, { realm: "elsewhere" }).bytes, {}, CertificateWrongRealm],
      [aliceCert.bytes, { requiredTaints: ["web", "admin"] }, CertificateMissingTaint],
      [sigFlip(sigStart + 3), {}, CertificateBadSignature], // Ed25519 half
      [sigFlip(sigStart + ED25519_SIGNATURE_SIZE + 100), {}, CertificateBadSignature], // ML-DSA half
      [sigFlip(78), {}, CertificateBadSignature], // signed body (high half of not-after)
      [
        issueCertificate(rogue, {
          publicKeys: alice.publicKeys,
          realm: REALM,
          ipv4: "100.64.0.1",
          notBefore: 1,
          notAfter: NOW_S + 10,
        }).bytes,
        {},
        CertificateUnknownIssuer,
      ],
      [aliceCert.bytes.subarray(10), {}, CertificateMalformed],
    ];
    const names = new Set<string>();
    for (const [bytes, extra, cls] of cases) {
      let caught: unknown;
      try {
        verifyCertificate(bytes, opts(extra));
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(cls);
      expect(caught).toBeInstanceOf(CertificateError);
      names.add((caught as Error).name);
    }
    expect(names.size).toBe(8);
  });

  test("a cached certificate is still re-checked for time, revocation and issuer trust", () => {
    const cache = new CertificateCache();
    verifyCertificate(aliceCert, opts({ cache }));
    expect(() => verifyCertificate(aliceCert, opts({ cache, now: NOW_S + 7200 }))).toThrow(
      CertificateExpired,
    );
    const revoked = new RevocationSet();
    revoked.revokeNode(alice.nodeId);
    expect(() => verifyCertificate(aliceCert, opts({ cache, revoked }))).toThrow(CertificateRevoked);
    expect(() => verifyCertificate(aliceCert, opts({ cache, realmKeys: new Map() }))).toThrow(
      CertificateUnknownIssuer,
    );
    expect(cache.signatureChecks).toBe(1);
  });

  test("the cache is bounded (LRU)", () => {
    const cache = new CertificateCache(2);
    const certs = [
      issue(alice, { ipv4: "100.64.1.1" }),
      issue(alice, { ipv4: "100.64.1.2" }),
      issue(alice, { ipv4: "100.64.1.3" }),
    ];
    for (const c of certs) verifyCertificate(c, opts({ cache }));
    expect(cache.size).toBe(2);
    verifyCertificate(certs[0] as never, opts({ cache }));
    expect(cache.signatureChecks).toBe(4);
  });
});
