import { describe, expect, test } from "bun:test";
import { Suite } from "./aead/aead.ts";
import { availableBackends } from "./aead/choose.ts";
import { MsgType } from "./message-type.ts";
import {
  COUNTER_LIMIT,
  CounterNonce,
  newTransportHeader,
  openTransport,
  parseTransportHeader,
  readCounter,
  sealTransport,
  TRANSPORT_HEADER_SIZE,
  TRANSPORT_MIN_SIZE,
} from "./transport.ts";
import { Drop } from "./transport-errors.ts";
import vectors from "./vectors/transport-messages.json" with { type: "json" };

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const aesBackends = availableBackends().filter((b) => b.suite === Suite.Aes256Gcm);

describe("transport", () => {
  for (const backend of aesBackends) {
    test(`${backend.name}: reproduces and opens every wire vector`, () => {
      const ctx = backend.create(hex(vectors.key));
      const nonce = new CounterNonce();
      const hdr = newTransportHeader();
      for (const v of vectors.messages) {
        const pt = hex(v.plaintext);
        const buf = new Uint8Array(new ArrayBuffer(TRANSPORT_MIN_SIZE + pt.length));
        buf.set(pt, TRANSPORT_HEADER_SIZE);
        const n = sealTransport(ctx, nonce, buf, 0, v.type, v.receiver, Number(v.counter), pt.length);
        expect(toHex(buf.subarray(0, n))).toBe(v.message);

        const rx = hex(v.message);
        expect(parseTransportHeader(rx, 0, rx.length, hdr)).toBe(0);
        expect(hdr).toEqual({ type: v.type, receiver: v.receiver, counter: Number(v.counter) });
        expect(openTransport(ctx, nonce, rx, 0, rx.length, hdr.counter)).toBe(pt.length);
        expect(toHex(rx.subarray(TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE + pt.length))).toBe(
          v.plaintext,
        );
      }
      ctx.destroy();
    });

    test(`${backend.name}: flipping any single byte of a message is rejected`, () => {
      const ctx = backend.create(hex(vectors.key));
      const nonce = new CounterNonce();
      const hdr = newTransportHeader();
      for (const v of vectors.messages.slice(0, 4)) {
        const msg = hex(v.message);
        for (let i = 0; i < msg.length; i++) {
          for (const mask of [0x01, 0x10, 0xff]) {
            const rx = Uint8Array.from(msg);
            rx[i]! ^= mask;
            // framing may reject first (type, reserved, counter limit); otherwise the tag must fail
            const parsed = parseTransportHeader(rx, 0, rx.length, hdr);
            const accepted = parsed === 0 && openTransport(ctx, nonce, rx, 0, rx.length, hdr.counter) >= 0;
            expect(accepted).toBe(false);
          }
        }
      }
      ctx.destroy();
    });
  }

  test("framing: short, wrong type, reserved bytes, counter at the limit, bad offsets", () => {
    const hdr = newTransportHeader();
    const ok = hex(vectors.messages[1]!.message);
    expect(parseTransportHeader(ok, 0, ok.length, hdr)).toBe(0);
    expect(parseTransportHeader(ok, 0, TRANSPORT_MIN_SIZE - 1, hdr)).toBe(Drop.Short);
    expect(parseTransportHeader(ok, 1, ok.length, hdr)).toBe(Drop.Short);
    expect(parseTransportHeader(ok, -1, ok.length, hdr)).toBe(Drop.Short);
    for (const type of [0, 1, 2, 3, 6, 255]) {
      const m = Uint8Array.from(ok);
      m[0] = type;
      expect(parseTransportHeader(m, 0, m.length, hdr)).toBe(Drop.BadType);
    }
    for (const at of [1, 2, 3]) {
      const m = Uint8Array.from(ok);
      m[at] = 1;
      expect(parseTransportHeader(m, 0, m.length, hdr)).toBe(Drop.Reserved);
    }
    const m = Uint8Array.from(ok);
    new DataView(m.buffer).setBigUint64(8, BigInt(COUNTER_LIMIT), true);
    expect(readCounter(m, 0)).toBe(-1);
    expect(parseTransportHeader(m, 0, m.length, hdr)).toBe(Drop.CounterLimit);
    new DataView(m.buffer).setBigUint64(8, 2n ** 64n - 1n, true);
    expect(parseTransportHeader(m, 0, m.length, hdr)).toBe(Drop.CounterLimit);
    new DataView(m.buffer).setBigUint64(8, BigInt(COUNTER_LIMIT - 1), true);
    expect(readCounter(m, 0)).toBe(COUNTER_LIMIT - 1);
  });

  test("seal refuses counters outside [0, limit) and buffers without room", () => {
    const ctx = aesBackends[0]!.create(new Uint8Array(32));
    const nonce = new CounterNonce();
    const buf = new Uint8Array(new ArrayBuffer(64));
    expect(sealTransport(ctx, nonce, buf, 0, MsgType.Transport, 1, COUNTER_LIMIT, 8)).toBe(-1);
    expect(sealTransport(ctx, nonce, buf, 0, MsgType.Transport, 1, -1, 8)).toBe(-1);
    expect(sealTransport(ctx, nonce, buf, 0, MsgType.Transport, 1, 0.5, 8)).toBe(-1);
    expect(sealTransport(ctx, nonce, buf, 0, MsgType.Transport, 1, 0, 33)).toBe(-1);
    expect(sealTransport(ctx, nonce, buf, 0, MsgType.Transport, 1, 0, 32)).toBe(64);
    ctx.destroy();
  });

  test("counter nonce is 4 zero bytes then the counter little-endian", () => {
    const n = new CounterNonce();
    expect(toHex(n.set(0))).toBe("000000000000000000000000");
    expect(toHex(n.set(0x0102030405))).toBe("000000000504030201000000");
    expect(toHex(n.set(2 ** 53 - 1))).toBe("00000000ffffffffffff1f00");
  });
});
