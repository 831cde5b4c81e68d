/**
 * The summary a node publishes (types.ts `Summary`), its byte encoding, and the checks every received
 * summary passes before the agent looks at it. Signing and sealing belong to the control layer; this
 * file only guarantees that a summary is well-formed and bounded.
 *
 *  0        8        16               32
 *  | ver=1  | flags  |   reserved (0)  |      flags bit 0: full summary
 *  |           origin (u32 BE)          |
 *  |           seq    (u32 BE)          |
 *  |           count  (u32 BE)          |
 *  then count entries of ENTRY_SIZE bytes:
 *  |           dest   (u32 BE)          |
 *  |   cost (u16 BE)  | hops   | 0      |      cost in COST_UNIT_MS, 0xffff = withdrawn
 *  |           via    (u32 BE)          |
 */
import { HOP_CAP, SUMMARY_MAX_ENTRIES, UNREACHABLE } from "./constants.ts";
import { SummaryError } from "./errors.ts";
import type { Summary } from "./types.ts";

export const SUMMARY_VERSION = 1;
export const SUMMARY_HEADER_SIZE = 16;
export const ENTRY_SIZE = 12;
const FLAG_FULL = 1;
const OFF_ORIGIN = 4;
const OFF_SEQ = 8;
const OFF_COUNT = 12;

const isU32 = (x: unknown): x is number =>
  typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;

/** Throws SummaryError unless `s` is a well-formed, bounded summary. */
export function checkSummary(s: Summary): void {
  if (!isU32(s.origin)) throw new SummaryError("SUMMARY_ORIGIN", "origin is not a u32");
  if (!isU32(s.seq)) throw new SummaryError("SUMMARY_SEQ", "seq is not a u32");
  if (
    !(s.dests instanceof Uint32Array) ||
    !(s.costs instanceof Uint16Array) ||
    !(s.hops instanceof Uint8Array) ||
    !(s.vias instanceof Uint32Array)
  ) {
    throw new SummaryError("SUMMARY_SHAPE", "summary columns have the wrong types");
  }
  const n = s.dests.length;
  if (n > SUMMARY_MAX_ENTRIES) throw new SummaryError("SUMMARY_TOO_LARGE", `${n} entries`);
  if (s.costs.length !== n || s.hops.length !== n || s.vias.length !== n) {
    throw new SummaryError("SUMMARY_SHAPE", "summary columns differ in length");
  }
  for (let i = 0; i < n; i++) {
    if (s.hops[i]! > HOP_CAP && s.costs[i] !== UNREACHABLE) {
      throw new SummaryError("SUMMARY_HOPS", `entry ${i} claims ${s.hops[i]} hops`);
    }
  }
}

/** Bytes of an encoded summary with `count` entries. */
export function summarySize(count: number): number {
  return SUMMARY_HEADER_SIZE + count * ENTRY_SIZE;
}

export function encodeSummary(s: Summary): Uint8Array {
  checkSummary(s);
  const n = s.dests.length;
  const out = new Uint8Array(summarySize(n));
  const v = new DataView(out.buffer);
  out[0] = SUMMARY_VERSION;
  out[1] = s.full ? FLAG_FULL : 0;
  v.setUint32(OFF_ORIGIN, s.origin);
  v.setUint32(OFF_SEQ, s.seq);
  v.setUint32(OFF_COUNT, n);
  for (let i = 0, o = SUMMARY_HEADER_SIZE; i < n; i++, o += ENTRY_SIZE) {
    v.setUint32(o, s.dests[i]!);
    v.setUint16(o + 4, s.costs[i]!);
    out[o + 6] = s.hops[i]!;
    v.setUint32(o + 8, s.vias[i]!);
  }
  return out;
}

/** Parses hostile bytes; throws SummaryError on any malformation. */
export function decodeSummary(b: Uint8Array): Summary {
  if (b.length < SUMMARY_HEADER_SIZE) throw new SummaryError("SUMMARY_SHORT", "shorter than the header");
  if (b[0] !== SUMMARY_VERSION) throw new SummaryError("SUMMARY_VERSION", `version ${b[0]}`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const flags = b[1]!;
  if ((flags & ~FLAG_FULL) !== 0 || v.getUint16(2) !== 0) {
    throw new SummaryError("SUMMARY_FLAGS", "unknown flags or reserved bits set");
  }
  const n = v.getUint32(OFF_COUNT);
  if (n > SUMMARY_MAX_ENTRIES) throw new SummaryError("SUMMARY_TOO_LARGE", `${n} entries`);
  if (b.length !== summarySize(n)) throw new SummaryError("SUMMARY_LENGTH", "length does not match count");
  const dests = new Uint32Array(n);
  const costs = new Uint16Array(n);
  const hops = new Uint8Array(n);
  const vias = new Uint32Array(n);
  for (let i = 0, o = SUMMARY_HEADER_SIZE; i < n; i++, o += ENTRY_SIZE) {
    if (b[o + 7] !== 0) throw new SummaryError("SUMMARY_FLAGS", `entry ${i} padding is not zero`);
    dests[i] = v.getUint32(o);
    costs[i] = v.getUint16(o + 4);
    hops[i] = b[o + 6]!;
    vias[i] = v.getUint32(o + 8);
  }
  const s: Summary = {
    origin: v.getUint32(OFF_ORIGIN),
    seq: v.getUint32(OFF_SEQ),
    full: (flags & FLAG_FULL) !== 0,
    dests,
    costs,
    hops,
    vias,
  };
  checkSummary(s);
  return s;
}
