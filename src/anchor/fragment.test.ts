import { describe, expect, test } from "bun:test";
import { FragmentMalformed } from "./errors.ts";
import {
  encodeFragments,
  FRAGMENT_CHUNK,
  MAX_FRAGMENTS,
  MAX_HANDSHAKE_DATAGRAM,
  MAX_HANDSHAKE_MESSAGE,
  OFF_COUNT,
  OFF_INDEX,
  OFF_RESERVED,
  OFF_TOTAL,
  parseFragment,
} from "./fragment.ts";
import { ASSEMBLY_OVERHEAD_BYTES, Reassembler } from "./fragment-reassembly.ts";
import { MsgType } from "./message-type.ts";
import { seededRng } from "./rng.ts";

const rng = seededRng("fragments");
const message = (n: number) => rng(n);
const I = MsgType.HandshakeInitiation;

describe("fragment framing", () => {
  test("split and parse round trip at every boundary size", () => {
    for (const n of [
      1,
      FRAGMENT_CHUNK - 1,
      FRAGMENT_CHUNK,
      FRAGMENT_CHUNK + 1,
      9000,
      MAX_HANDSHAKE_MESSAGE,
    ]) {
      const m = message(n);
      const frags = encodeFragments(I, 42, m);
      expect(frags.length).toBe(Math.ceil(n / FRAGMENT_CHUNK));
      const r = new Reassembler();
      let out: Uint8Array | undefined;
      for (const d of frags) {
        expect(d.length).toBeLessThanOrEqual(MAX_HANDSHAKE_DATAGRAM);
        out = r.add("a", parseFragment(d), 0);
      }
      expect(out).toEqual(m);
      expect(r.bytes).toBe(0);
    }
    expect(() => encodeFragments(I, 1, new Uint8Array(MAX_HANDSHAKE_MESSAGE + 1))).toThrow(FragmentMalformed);
  });

  test("header fields are range-checked", () => {
    const d = encodeFragments(I, 1, message(3000))[0] as Uint8Array;
    const mutate = (at: number, v: number) => {
      const b = Uint8Array.from(d);
      b[at] = v;
      return b;
    };
    for (const bad of [
      mutate(0, MsgType.Transport),
      mutate(1, 2),
      mutate(OFF_INDEX, 3),
      mutate(OFF_COUNT, 0),
      mutate(OFF_COUNT, MAX_FRAGMENTS + 1),
      mutate(OFF_TOTAL + 1, 0),
      mutate(OFF_RESERVED, 1),
      d.subarray(0, d.length - 1),
      new Uint8Array(MAX_HANDSHAKE_DATAGRAM + 1),
    ]) {
      expect(() => parseFragment(bad)).toThrow(FragmentMalformed);
    }
  });
});

describe("reassembly", () => {
  test("out of order, duplicates and conflicting copies (first copy wins)", () => {
    const m = message(5000);
    const frags = encodeFragments(I, 9, m);
    const r = new Reassembler();
    expect(r.add("s", parseFragment(frags[3] as Uint8Array), 0)).toBeUndefined();
    expect(r.add("s", parseFragment(frags[3] as Uint8Array), 0)).toBeUndefined();
    const evil = Uint8Array.from(frags[1] as Uint8Array);
    evil[20] = (evil[20] as number) ^ 1;
    r.add("s", parseFragment(evil), 0);
    r.add("s", parseFragment(frags[1] as Uint8Array), 0);
    expect(r.stats.duplicates).toBe(1);
    expect(r.stats.conflicts).toBe(1);
    r.add("s", parseFragment(frags[0] as Uint8Array), 0);
    r.add("s", parseFragment(frags[2] as Uint8Array), 0);
    const out = r.add("s", parseFragment(frags[4] as Uint8Array), 0);
    expect(out).toBeDefined();
    expect(out).not.toEqual(m); // the first (evil) copy of fragment 1 won; the handshake's AEAD will refuse it
  });

  test("a fragment whose count or total disagrees with its assembly is a conflict", () => {
    const r = new Reassembler();
    r.add("s", parseFragment(encodeFragments(I, 5, message(3000))[0] as Uint8Array), 0);
    r.add("s", parseFragment(encodeFragments(I, 5, message(5000))[1] as Uint8Array), 0);
    expect(r.stats.conflicts).toBe(1);
  });

  test("per-source, global and timeout bounds hold", () => {
    const limits = {
      maxBytesPerSource: 10_000,
      maxAssembliesPerSource: 3,
      maxBytesTotal: 40_000,
      timeoutMs: 1000,
    };
    const r = new Reassembler(limits);
    // One source opens many partial assemblies: it never exceeds its caps.
    for (let id = 0; id < 50; id++) {
      const frags = encodeFragments(I, id, message(9000));
      r.add("flooder", parseFragment(frags[0] as Uint8Array), 0);
      r.add("flooder", parseFragment(frags[1] as Uint8Array), 0);
      expect(r.bytes).toBeLessThanOrEqual(limits.maxBytesPerSource);
      expect(r.assemblies).toBeLessThanOrEqual(3);
    }
    // Many sources: the global cap holds.
    for (let s = 0; s < 200; s++) {
      const frags = encodeFragments(I, s, message(9000));
      for (let k = 0; k < 4; k++) r.add(`src-${s}`, parseFragment(frags[k] as Uint8Array), 10);
      expect(r.bytes).toBeLessThanOrEqual(limits.maxBytesTotal);
    }
    expect(r.stats.evicted).toBeGreaterThan(0);
    r.expire(10 + limits.timeoutMs);
    expect(r.bytes).toBe(0);
    expect(r.assemblies).toBe(0);
    expect(r.sources).toBe(0);
    expect(ASSEMBLY_OVERHEAD_BYTES).toBeGreaterThan(0);
  });
});
