import { describe, expect, test } from "bun:test";
import { EphemeralX25519, HYBRID_SIGNATURE_SIZE, Identity, verifyHybrid } from "./identity.ts";

describe("identity", () => {
  const alice = Identity.generate();
  const bob = Identity.generate();
  const msg = new TextEncoder().encode("hello");

  test("hybrid signature verifies and binds context, message and key", () => {
    const sig = alice.sign(msg, "test");
    expect(sig.length).toBe(HYBRID_SIGNATURE_SIZE);
    expect(verifyHybrid(sig, msg, "test", alice.ed25519Public, alice.mldsa65Public)).toBe(true);
    expect(verifyHybrid(sig, msg, "other", alice.ed25519Public, alice.mldsa65Public)).toBe(false);
    expect(
      verifyHybrid(sig, new TextEncoder().encode("hellp"), "test", alice.ed25519Public, alice.mldsa65Public),
    ).toBe(false);
    expect(verifyHybrid(sig, msg, "test", bob.ed25519Public, bob.mldsa65Public)).toBe(false);
  });

  test("each half is required", () => {
    const sig = alice.sign(msg, "test");
    for (const at of [0, 63, 64, HYBRID_SIGNATURE_SIZE - 1]) {
      const bad = Uint8Array.from(sig);
      bad[at] = (bad[at] ?? 0) ^ 1;
      expect(verifyHybrid(bad, msg, "test", alice.ed25519Public, alice.mldsa65Public)).toBe(false);
    }
    expect(verifyHybrid(sig.subarray(1), msg, "test", alice.ed25519Public, alice.mldsa65Public)).toBe(false);
  });

  test("secret round trip gives the same node id and keys", () => {
    const again = Identity.fromSecret(alice.exportSecret());
    expect(again.nodeId).toEqual(alice.nodeId);
    expect(again.publicKeys.mlkem768).toEqual(alice.publicKeys.mlkem768);
    expect(() => Identity.fromSecret(new Uint8Array(10))).toThrow("identity secret must be");
  });

  test("static and ephemeral x25519 agree", () => {
    const e = new EphemeralX25519();
    expect(e.shared(bob.publicKeys.x25519)).toEqual(bob.x25519(e.publicKey));
    expect(() => bob.x25519(new Uint8Array(32))).toThrow();
  });
});
