import { describe, expect, test } from "bun:test";
import { RevocationListError } from "./errors.ts";
import { alice, aliceCert, bobCert, guardian, NOW_S, REALM } from "./handshake.fixture.ts";
import { trustedIssuers } from "./issuer.ts";
import {
  decodeRevocationList,
  RevocationKind,
  RevocationSet,
  signRevocationList,
  verifyRevocationList,
} from "./revocation.ts";

describe("revocation", () => {
  const list = signRevocationList(
    guardian,
    {
      realm: REALM,
      issuedAt: NOW_S,
      sequence: 5,
      entries: [
        { kind: RevocationKind.Node, id: alice.nodeId, until: Number.POSITIVE_INFINITY },
        { kind: RevocationKind.Certificate, id: bobCert.id, until: bobCert.notAfter },
      ],
    },
    new Uint8Array(32),
  );
  const trust = { realmKeys: trustedIssuers(guardian), realm: REALM };

  test("a signed list verifies, applies once, and revokes by node id and by certificate id", () => {
    const set = new RevocationSet();
    expect(set.isRevoked(aliceCert, NOW_S)).toBe(false);
    expect(set.apply(verifyRevocationList(list, trust))).toBe(true);
    expect(set.apply(verifyRevocationList(list, trust))).toBe(false); // same sequence: ignored
    expect(set.isRevoked(aliceCert, NOW_S)).toBe(true);
    expect(set.isRevoked(bobCert, NOW_S)).toBe(true);
    expect(set.isRevoked(bobCert, bobCert.notAfter + 1)).toBe(false);
    set.prune(bobCert.notAfter + 1);
    expect(set.size).toBe(1);
  });

  test("tampered, foreign or truncated lists are refused", () => {
    const bad = Uint8Array.from(list);
    bad[30] = (bad[30] as number) ^ 1;
    expect(() => verifyRevocationList(bad, trust)).toThrow(RevocationListError);
    expect(() => verifyRevocationList(list, { ...trust, realm: "other" })).toThrow(RevocationListError);
    expect(() => verifyRevocationList(list, { ...trust, realmKeys: new Map() })).toThrow(RevocationListError);
    expect(() => decodeRevocationList(list.subarray(0, list.length - 1))).toThrow(RevocationListError);
  });
});
