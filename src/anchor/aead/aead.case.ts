/**
 * One conformance suite for every AEAD backend (no `.test` suffix: each backend's test file runs it).
 * Known answers from NIST/GCM-spec, Wycheproof and RFC 8439; in-place layout at odd offsets; every
 * single-byte flip rejected; and nonce uniqueness over a JIT-hot loop, checked against an independent
 * pure-JS implementation, so a stale FFI pointer that reused a nonce would fail here.
 */
import { describe, expect, test } from "bun:test";
import { gcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { MsgType } from "../message-type.ts";
import { CounterNonce, sealTransport, TRANSPORT_HEADER_SIZE } from "../transport.ts";
import vectors from "../vectors/transport-aead.json" with { type: "json" };
import { AEAD_TAG_SIZE, type AeadBackend, Suite } from "./aead.ts";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

interface Vector {
  source: string;
  key: string;
  nonce: string;
  aad: string;
  pt: string;
  ct: string;
  tag: string;
}

/** An independent reference (pure JS) for the suite. */
export function referenceCipher(suite: Suite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array) {
  return suite === Suite.Aes256Gcm ? gcm(key, nonce, aad) : chacha20poly1305(key, nonce, aad);
}

export function aeadConformance(makeBackend: () => AeadBackend): void {
  const backend = makeBackend();
  const list: Vector[] = backend.suite === Suite.Aes256Gcm ? vectors.aes256gcm : vectors.chacha20poly1305;

  describe(`aead ${backend.name}`, () => {
    for (const v of list) {
      test(`known answer: ${v.source}`, () => {
        const aad = hex(v.aad);
        const pt = hex(v.pt);
        const ctx = backend.create(hex(v.key));
        for (const pos of [0, 3]) {
          // both an FFI-safe ArrayBuffer-backed buffer and a small inline one
          for (const buf of [
            new Uint8Array(new ArrayBuffer(pos + aad.length + pt.length + 16 + 5)),
            new Uint8Array(pos + aad.length + pt.length + 16),
          ]) {
            buf.set(aad, pos);
            buf.set(pt, pos + aad.length);
            const n = ctx.seal(buf, pos, aad.length, pt.length, hex(v.nonce));
            expect(n).toBe(aad.length + pt.length + AEAD_TAG_SIZE);
            expect(toHex(buf.subarray(pos, pos + aad.length))).toBe(v.aad);
            expect(toHex(buf.subarray(pos + aad.length, pos + aad.length + pt.length))).toBe(v.ct);
            expect(toHex(buf.subarray(pos + aad.length + pt.length, pos + n))).toBe(v.tag);
            expect(ctx.open(buf, pos, aad.length, n, hex(v.nonce))).toBe(pt.length);
            expect(toHex(buf.subarray(pos + aad.length, pos + aad.length + pt.length))).toBe(v.pt);
          }
        }
        ctx.destroy();
      });

      test(`every single-byte flip is rejected: ${v.source}`, () => {
        const aad = hex(v.aad);
        const sealed = new Uint8Array([...aad, ...hex(v.ct), ...hex(v.tag)]);
        const ctx = backend.create(hex(v.key));
        const buf = new Uint8Array(new ArrayBuffer(sealed.length));
        for (let i = 0; i < sealed.length; i++) {
          for (const mask of [0x01, 0x80]) {
            buf.set(sealed);
            buf[i]! ^= mask;
            expect(ctx.open(buf, 0, aad.length, sealed.length, hex(v.nonce))).toBe(-1);
          }
        }
        buf.set(sealed);
        const badNonce = hex(v.nonce);
        badNonce[11]! ^= 1;
        expect(ctx.open(buf, 0, aad.length, sealed.length, badNonce)).toBe(-1);
        buf.set(sealed);
        expect(ctx.open(buf, 0, aad.length, sealed.length, hex(v.nonce))).toBe(hex(v.pt).length);
      });
    }

    test("nonce uniqueness: 20,000 counter-nonce messages in a hot loop match the reference", () => {
      const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
      const ctx = backend.create(key);
      const nonce = new CounterNonce();
      const N = backend.name === "chacha-noble" ? 3000 : 20000;
      const textLen = 64;
      const firstBlocks = new Set<string>();
      const buf = new Uint8Array(new ArrayBuffer(TRANSPORT_HEADER_SIZE + textLen + AEAD_TAG_SIZE));
      let checked = 0;
      for (let counter = 0; counter < N; counter++) {
        buf.fill(0xab, TRANSPORT_HEADER_SIZE); // identical plaintext every time
        const n = sealTransport(ctx, nonce, buf, 0, MsgType.Transport, 7, counter, textLen);
        expect(n).toBe(buf.length);
        firstBlocks.add(toHex(buf.subarray(TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE + 16)));
        if (counter % 97 === 0 || counter === N - 1) {
          const ref = new Uint8Array(12);
          new DataView(ref.buffer).setBigUint64(4, BigInt(counter), true);
          const expected = referenceCipher(
            backend.suite,
            key,
            ref,
            buf.subarray(0, TRANSPORT_HEADER_SIZE),
          ).encrypt(new Uint8Array(textLen).fill(0xab));
          expect(toHex(buf.subarray(TRANSPORT_HEADER_SIZE))).toBe(toHex(expected));
          checked++;
        }
      }
      expect(firstBlocks.size).toBe(N); // a reused nonce repeats the keystream of identical plaintext
      expect(checked).toBeGreaterThan(30);
      ctx.destroy();
    });

    test("a caller buffer that JSC may move (small, inline, .buffer touched between calls) still gets the right nonce", () => {
      const key = new Uint8Array(32).fill(9);
      const ctx = backend.create(key);
      const nonce = new CounterNonce();
      for (let counter = 0; counter < 200; counter++) {
        const small = new Uint8Array(TRANSPORT_HEADER_SIZE + 8 + AEAD_TAG_SIZE); // inline storage
        small.fill(1, TRANSPORT_HEADER_SIZE);
        if (counter % 2 === 0) void small.buffer; // forces the move to out-of-line storage
        const n = sealTransport(ctx, nonce, small, 0, MsgType.Transport, 1, counter, 8);
        void small.subarray(1);
        const ref = new Uint8Array(12);
        new DataView(ref.buffer).setBigUint64(4, BigInt(counter), true);
        const expected = referenceCipher(
          backend.suite,
          key,
          ref,
          small.subarray(0, TRANSPORT_HEADER_SIZE),
        ).encrypt(new Uint8Array(8).fill(1));
        expect(toHex(small.subarray(TRANSPORT_HEADER_SIZE, n))).toBe(toHex(expected));
      }
      ctx.destroy();
    });

    test("bounds and destroy: too-small buffers and destroyed contexts fail without writing", () => {
      const ctx = backend.create(new Uint8Array(32));
      const nonce = new Uint8Array(12);
      const buf = new Uint8Array(new ArrayBuffer(40)).fill(5);
      expect(ctx.seal(buf, 0, 16, 9, nonce)).toBe(-1); // 16 + 9 + 16 = 41 > 40
      expect(ctx.seal(buf, 0, 16, 8, new Uint8Array(11))).toBe(-1);
      expect(buf.every((b) => b === 5)).toBe(true);
      expect(ctx.open(buf, 0, 16, 31, nonce)).toBe(-1); // shorter than aad + tag
      expect(ctx.open(buf, 1, 16, 40, nonce)).toBe(-1); // past the end
      expect(ctx.seal(buf, 0, 16, 8, nonce)).toBe(40);
      expect(ctx.open(buf, 0, 16, 40, nonce)).toBe(8);
      ctx.destroy();
      ctx.destroy();
      expect(ctx.seal(buf, 0, 16, 8, nonce)).toBe(-1);
      expect(ctx.open(buf, 0, 16, 40, nonce)).toBe(-1);
      expect(() => backend.create(new Uint8Array(16))).toThrow();
    });
  });
}
