/**
 * The data plane's reference seal reproduces the Anchor transport vectors byte for byte; the
 * netns loopback test proves the native seal equals this reference, closing the chain
 * native = reference = published vectors (src/anchor/vectors/transport-messages.json).
 */
import { describe, expect, it } from "bun:test";
import vectors from "../../../anchor/vectors/transport-messages.json" with { type: "json" };
import { referenceOpen, referenceSeal } from "./seal-reference.ts";
import { MSG_TYPE_TRANSPORT, transportNonce } from "./wire.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("transport wire format", () => {
  const key = hex(vectors.key);
  const transport = vectors.messages.filter((v) => v.type === MSG_TYPE_TRANSPORT);

  it("has transport vectors to check", () => {
    expect(transport.length).toBeGreaterThanOrEqual(3);
  });

  it("seals every transport vector byte for byte", () => {
    for (const v of transport) {
      expect(toHex(referenceSeal(key, v.receiver, BigInt(v.counter), hex(v.plaintext)))).toBe(v.message);
    }
  });

  it("opens every transport vector and rejects any flipped byte", () => {
    for (const v of transport) {
      const opened = referenceOpen(key, hex(v.message));
      expect(opened).not.toBeNull();
      expect(opened!.receiver).toBe(v.receiver);
      expect(opened!.counter).toBe(BigInt(v.counter));
      expect(toHex(opened!.plaintext)).toBe(v.plaintext);
      const msg = hex(v.message);
      for (let i = 0; i < msg.length; i++) {
        const bad = Uint8Array.from(msg);
        bad[i]! ^= 0x01;
        expect(referenceOpen(key, bad)).toBeNull();
      }
    }
  });

  it("builds the nonce as 4 zero bytes then the counter little-endian", () => {
    expect(toHex(transportNonce(0x0102030405060708n))).toBe("000000000807060504030201");
  });
});
