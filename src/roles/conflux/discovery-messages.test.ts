import { describe, expect, test } from "bun:test";
import {
  DiscoveryMessageError,
  decodePresence,
  decodeSignal,
  encodePresence,
  encodeSignal,
} from "./discovery-messages.ts";

describe("discovery messages", () => {
  test("round trips", () => {
    const cert = Uint8Array.from([1, 2, 3, 250]);
    expect(decodePresence(encodePresence({ certificate: cert, port: 51830 }))).toEqual({
      certificate: cert,
      port: 51830,
    });
    expect(decodePresence(encodePresence({ certificate: cert, port: 9, epoch: 0xfffffffe }))).toEqual({
      certificate: cert,
      port: 9,
      epoch: 0xfffffffe,
    });
    expect(
      decodePresence(encodePresence({ certificate: cert, port: 9, epoch: 3, quarantined: true })),
    ).toEqual({
      certificate: cert,
      port: 9,
      epoch: 3,
      quarantined: true,
    });
    // false is not sent at all: older nodes parse the presence unchanged
    expect(
      new TextDecoder().decode(encodePresence({ certificate: cert, port: 9, quarantined: false })),
    ).not.toContain("quarantined");
    const s = { kind: "offer" as const, session: 7, candidates: [{ ip: "198.18.1.2", port: 9 }] };
    expect(decodeSignal(encodeSignal(s))).toEqual(s);
  });

  test("hostile bodies are refused with the typed error only (fuzz)", () => {
    const valid = encodeSignal({ kind: "answer", session: 1, candidates: [{ ip: "198.18.0.1", port: 1 }] });
    const validPresence = encodePresence({ certificate: new Uint8Array(8), port: 1 });
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      const base = i % 2 === 0 ? valid : validPresence;
      const d = Uint8Array.from(base);
      const flips = 1 + (i % 4);
      for (let f = 0; f < flips; f++)
        d[Math.floor(Math.random() * d.length)] = Math.floor(Math.random() * 256);
      for (const decode of [decodeSignal, decodePresence]) {
        try {
          decode(d);
        } catch (e) {
          expect(e).toBeInstanceOf(DiscoveryMessageError);
          refused++;
        }
      }
    }
    expect(refused).toBeGreaterThan(20_000);
    expect(() =>
      decodeSignal(new TextEncoder().encode('{"v":1,"kind":"offer","session":-1,"candidates":[]}')),
    ).toThrow("u32");
    expect(() =>
      decodeSignal(
        new TextEncoder().encode('{"v":1,"kind":"offer","session":1,"candidates":[{"ip":"x","port":1}]}'),
      ),
    ).toThrow("candidate ip");
    const presence = (epoch: string) =>
      new TextEncoder().encode(`{"v":1,"cert":"AAAA","port":1,"epoch":${epoch}}`);
    for (const epoch of ["-1", "4294967296", "1.5", '"7"', "null"])
      expect(() => decodePresence(presence(epoch))).toThrow("presence epoch must be a u32");
    for (const q of ["false", "1", '"yes"', "null"])
      expect(() =>
        decodePresence(new TextEncoder().encode(`{"v":1,"cert":"AAAA","port":1,"quarantined":${q}}`)),
      ).toThrow("presence quarantined must be true when present");
  });
});
