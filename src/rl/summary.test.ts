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

  const corrupt: [string, (b: Uint8Array) => Uint8Array][] = [
    ["truncated header", (b) => b.subarray(0, 10)],
    ["truncated entries", (b) => b.subarray(0, b.length - 1)],
    ["trailing bytes", (b) => Uint8Array.of(...b, 0)],
    ["unknown version", (b) => ((b[0] = 2), b)],
    ["unknown flags", (b) => ((b[1] = 0x80), b)],
    ["reserved bits", (b) => ((b[3] = 1), b)],
    ["non-zero padding", (b) => ((b[SUMMARY_HEADER_SIZE + 7] = 1), b)],
    ["count beyond the data", (b) => (new DataView(b.buffer).setUint32(12, 1_000_000), b)],
    ["hops over the cap", (b) => ((b[SUMMARY_HEADER_SIZE + 6] = 200), b)],
  ];
  for (const [name, damage] of corrupt) {
    test(`rejects ${name}`, () => {
      const b = damage(encodeSummary(sample).slice());
      expect(() => decodeSummary(b)).toThrow(SummaryError);
    });
  }
});
