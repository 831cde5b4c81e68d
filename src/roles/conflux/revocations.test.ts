import { describe, expect, test } from "bun:test";
import { RevocationListError } from "../../anchor/errors.ts";
import { Identity } from "../../anchor/identity.ts";
import { trustedIssuers } from "../../anchor/issuer.ts";
import { RevocationKind, signRevocationList } from "../../anchor/revocation.ts";
import { Subjects } from "../../control/index.ts";
import { buildEnvelope } from "../../control/outbound.ts";
import { verifyRevocationMessage } from "./revocations.ts";

const guardian = Identity.generate();
const opts = { realmKeys: trustedIssuers(guardian), realm: "rv-realm" };
const victim = Identity.generate().nodeId;
const list = signRevocationList(guardian, {
  realm: "rv-realm",
  issuedAt: 1_700_000_000,
  sequence: 3,
  entries: [{ kind: RevocationKind.Node, id: victim, until: Number.POSITIVE_INFINITY }],
});

describe("revocation messages", () => {
  test("a list inside Guardian's signed control envelope (what Master delivers) is accepted", () => {
    const wrapped = buildEnvelope(guardian, { topic: Subjects.revocations, body: list }).bytes;
    const got = verifyRevocationMessage(wrapped, opts);
    expect(got.sequence).toBe(3);
    expect(got.entries.map((e) => e.id)).toEqual([victim]);
  });

  test("a bare list is accepted too", () => {
    expect(verifyRevocationMessage(list, opts).entries).toHaveLength(1);
  });

  test("an envelope for another subject, a forged list or a foreign issuer is refused", () => {
    const other = buildEnvelope(guardian, { topic: Subjects.presence("0".repeat(64)), body: list }).bytes;
    expect(() => verifyRevocationMessage(other, opts)).toThrow(RevocationListError);
    const forged = Uint8Array.from(list);
    forged[forged.length - 10]! ^= 1;
    const wrappedForged = buildEnvelope(guardian, { topic: Subjects.revocations, body: forged }).bytes;
    expect(() => verifyRevocationMessage(wrappedForged, opts)).toThrow(RevocationListError);
    const stranger = Identity.generate();
    const foreign = signRevocationList(stranger, {
      realm: "rv-realm",
      issuedAt: 1,
      sequence: 9,
      entries: [],
    });
    const wrappedForeign = buildEnvelope(stranger, { topic: Subjects.revocations, body: foreign }).bytes;
    expect(() => verifyRevocationMessage(wrappedForeign, opts)).toThrow(RevocationListError);
  });
});
