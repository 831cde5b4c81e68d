import { describe, expect, test } from "bun:test";
import { formatIPv6, nodeAddress6, nodeAddress6Bytes, realmPrefix6, realmPrefix6Bytes } from "./address6.ts";
import { IdentityError } from "./errors.ts";
import { alice, bob } from "./handshake.fixture.ts";

describe("identity-derived IPv6", () => {
  test("realm prefix is a ULA /48 outside fd00::/16, stable per realm", () => {
    const p = realmPrefix6("acme-prod");
    expect(p).toMatch(/^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/48$/);
    expect(p).toBe(realmPrefix6("acme-prod"));
    expect(p).not.toBe(realmPrefix6("acme-dev"));
    for (let i = 0; i < 2000; i++) {
      const b = realmPrefix6Bytes(`realm-${i}`);
      expect(b[0]).toBe(0xfd);
      expect(b[1]).not.toBe(0);
    }
  });

  test("node address sits in the realm prefix and differs per node", () => {
    const a = nodeAddress6Bytes("acme-prod", alice.nodeId);
    expect(a.subarray(0, 6)).toEqual(realmPrefix6Bytes("acme-prod"));
    expect(a[6]).toBe(0);
    expect(a[7]).toBe(0);
    expect(nodeAddress6("acme-prod", alice.nodeId)).not.toBe(nodeAddress6("acme-prod", bob.nodeId));
    expect(
      nodeAddress6("acme-prod", alice.nodeId).startsWith(realmPrefix6("acme-prod").replace("::/48", ":")),
    ).toBe(true);
    expect(() => realmPrefix6("bad realm!")).toThrow(IdentityError);
  });

  test("RFC 5952 formatting", () => {
    const b = new Uint8Array(16);
    b[0] = 0xfd;
    b[1] = 0x12;
    b[15] = 1;
    expect(formatIPv6(b)).toBe("fd12::1");
    b[15] = 0;
    expect(formatIPv6(b)).toBe("fd12::");
  });
});
