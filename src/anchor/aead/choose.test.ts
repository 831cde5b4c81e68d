import { describe, expect, test } from "bun:test";
import { Suite } from "./aead.ts";
import { availableBackends, chooseAead, hasHardwareAes, recommendedSuite } from "./choose.ts";
import { opensslAvailable } from "./openssl.ts";

describe("aead chooser", () => {
  test("AES-256-GCM prefers OpenSSL where libcrypto loads, ChaCha20-Poly1305 uses noble", () => {
    expect(chooseAead(Suite.Aes256Gcm).name).toBe(opensslAvailable() ? "openssl" : "node-crypto");
    expect(chooseAead(Suite.ChaCha20Poly1305).name).toBe("chacha-noble");
    expect(() => chooseAead(Suite.ChaCha20Poly1305, "openssl")).toThrow();
    expect(() => chooseAead(9 as Suite)).toThrow();
  });

  test("backends of one suite interoperate byte for byte; different suites never do", () => {
    const key = new Uint8Array(32).fill(3);
    const nonce = new Uint8Array(12).fill(4);
    const all = availableBackends();
    for (const a of all) {
      for (const b of all) {
        const buf = new Uint8Array(new ArrayBuffer(16 + 100 + 16));
        buf.fill(0x42);
        const sealer = a.create(key);
        const opener = b.create(key);
        const n = sealer.seal(buf, 0, 16, 100, nonce);
        expect(opener.open(buf, 0, 16, n, nonce)).toBe(a.suite === b.suite ? 100 : -1);
        sealer.destroy();
        opener.destroy();
      }
    }
  });

  test("hardware AES detection reads cpuinfo flags", () => {
    expect(hasHardwareAes("flags\t\t: fpu vme sse2 aes avx\n")).toBe(true);
    expect(hasHardwareAes("flags\t\t: fpu vme sse2 avx\n")).toBe(false);
    expect(hasHardwareAes("Features\t: fp asimd evtstrm aes pmull sha1\n")).toBe(true);
    expect(recommendedSuite("flags : sse2\n")).toBe(Suite.ChaCha20Poly1305);
  });
});
