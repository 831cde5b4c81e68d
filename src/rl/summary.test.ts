import { describe, expect, test } from "bun:test";
import { UNREACHABLE } from "./constants.ts";
import { SummaryError } from "./errors.ts";
import { decodeSummary, ENTRY_SIZE, encodeSummary, SUMMARY_HEADER_SIZE } from "./summary.ts";
import type { Summary } from "./types.ts";

const sample: Summary = {
  origin: 42,
  seq: 7,
  full: true,
  dests: Uint32Array.of(1, 2, 0xffffffff),
  costs: Uint16Array.of(100, UNREACHABLE, 65_000),
  hops: Uint8Array.of(1, 0, 8),
  vias: Uint32Array.of(5, 0, 6),
};

describe("summary - encoding", () => {
  test("round-trips", () => {
    const b = encodeSummary(sample);
    expect(b.length).toBe(SUMMARY_HEADER_SIZE + 3 * ENTRY_SIZE);
    expect(decodeSummary(b)).toEqual(sample);
  });

  const poke = (off: number, v: number) => (b: Uint8Array) => {
    b[off] = v;
    return b;
  };
  const corrupt: [string, (b: Uint8Array) => Uint8Array][] = [
    ["truncated header", (b) => b.subarray(0, 10)],
    ["truncated entries", (b) => b.subarray(0, b.length - 1)],
    ["trailing bytes", (b) => Uint8Array.of(...b, 0)],
    ["unknown version", poke(0, 2)],
    ["unknown flags", poke(1, 0x80)],
    ["reserved bits", poke(3, 1)],
    ["non-zero padding", poke(SUMMARY_HEADER_SIZE + 7, 1)],
    ["count beyond the data", poke(14, 0x0f)],
    ["hops over the cap", poke(SUMMARY_HEADER_SIZE + 6, 200)],
  ];
  for (const [name, damage] of corrupt) {
    test(`rejects ${name}`, () => {
      const b = damage(encodeSummary(sample).slice());
      expect(() => decodeSummary(b)).toThrow(SummaryError);
    });
  }
});
