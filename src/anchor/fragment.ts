/**
 * Handshake fragments. Handshake messages (≈ 9 KB initiation, ≈ 2.2 KB response) are cut into
 * datagrams of at most MAX_HANDSHAKE_DATAGRAM bytes, never relying on IP fragmentation. Every
 * fragment is self-describing and carries its own mac1/mac2 (cookie.ts), so each one can be
 * checked before it costs any reassembly memory.
 *
 *    0        1        2        3        4                                 8
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *   |  type  |version | index  | count  |      handshake id (u32 LE)        |
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *   | total length u16|  reserved = 0   |  chunk (FRAGMENT_CHUNK bytes, or the rest in the last) ...
 *   +--------+--------+--------+--------+-----------------------------------
 *   ... | mac1 (16) | mac2 (16) |
 *
 * type is HandshakeInitiation (1) or HandshakeResponse (2). The handshake id is the initiator's
 * sender index for this attempt, in both directions. Chunk i holds message bytes
 * [i*FRAGMENT_CHUNK, min(total, (i+1)*FRAGMENT_CHUNK)), so fragments can never overlap, and the
 * chunk length is fully determined by (index, count, total): any other length is malformed.
 */
import { FragmentMalformed } from "./errors.ts";
import { MsgType } from "./message-type.ts";

/* Specification constants */
export const HANDSHAKE_VERSION = 1;
export const MAX_HANDSHAKE_DATAGRAM = 1200;
export const FRAGMENT_HEADER_SIZE = 12;
export const MAC_SIZE = 16;
export const FRAGMENT_TRAILER_SIZE = 2 * MAC_SIZE;
export const FRAGMENT_CHUNK = MAX_HANDSHAKE_DATAGRAM - FRAGMENT_HEADER_SIZE - FRAGMENT_TRAILER_SIZE; // 1156
export const MAX_FRAGMENTS = 16;
export const MAX_HANDSHAKE_MESSAGE = MAX_FRAGMENTS * FRAGMENT_CHUNK; // 18496
export const OFF_TYPE = 0;
export const OFF_VERSION = 1;
export const OFF_INDEX = 2;
export const OFF_COUNT = 3;
export const OFF_HANDSHAKE_ID = 4;
export const OFF_TOTAL = 8;
export const OFF_RESERVED = 10;

export type FragmentType = typeof MsgType.HandshakeInitiation | typeof MsgType.HandshakeResponse;

/** A parsed fragment; `chunk` borrows the datagram's bytes. */
export interface Fragment {
  readonly type: FragmentType;
  readonly index: number;
  readonly count: number;
  readonly handshakeId: number;
  readonly total: number;
  readonly chunk: Uint8Array;
}

/** Number of fragments a message of `total` bytes needs. */
export function fragmentCount(total: number): number {
  return Math.max(1, Math.ceil(total / FRAGMENT_CHUNK));
}

/** Cuts a message into datagrams with zeroed mac fields (cookie.ts fills them). */
export function encodeFragments(type: FragmentType, handshakeId: number, message: Uint8Array): Uint8Array[] {
  if (message.length < 1 || message.length > MAX_HANDSHAKE_MESSAGE) {
    throw new FragmentMalformed(
      "FRAGMENT_TOO_LARGE",
      `message of ${message.length} bytes cannot be fragmented`,
    );
  }
  const count = fragmentCount(message.length);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const chunk = message.subarray(i * FRAGMENT_CHUNK, Math.min(message.length, (i + 1) * FRAGMENT_CHUNK));
    const d = new Uint8Array(FRAGMENT_HEADER_SIZE + chunk.length + FRAGMENT_TRAILER_SIZE);
    const v = new DataView(d.buffer);
    d[OFF_TYPE] = type;
    d[OFF_VERSION] = HANDSHAKE_VERSION;
    d[OFF_INDEX] = i;
    d[OFF_COUNT] = count;
    v.setUint32(OFF_HANDSHAKE_ID, handshakeId >>> 0, true);
    v.setUint16(OFF_TOTAL, message.length, true);
    d.set(chunk, FRAGMENT_HEADER_SIZE);
    out.push(d);
  }
  return out;
}

/** Parses and range-checks a fragment header. Throws only FragmentMalformed. */
export function parseFragment(d: Uint8Array): Fragment {
  if (d.length < FRAGMENT_HEADER_SIZE + 1 + FRAGMENT_TRAILER_SIZE || d.length > MAX_HANDSHAKE_DATAGRAM) {
    throw bad("SIZE", "fragment size out of range");
  }
  const type = d[OFF_TYPE];
  if (type !== MsgType.HandshakeInitiation && type !== MsgType.HandshakeResponse) {
    throw bad("TYPE", "not a handshake fragment");
  }
  if (d[OFF_VERSION] !== HANDSHAKE_VERSION) throw bad("VERSION", "unsupported handshake version");
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  if (v.getUint16(OFF_RESERVED, true) !== 0) throw bad("RESERVED", "reserved bits set");
  const index = d[OFF_INDEX] as number;
  const count = d[OFF_COUNT] as number;
  if (count < 1 || count > MAX_FRAGMENTS || index >= count)
    throw bad("INDEX", "fragment index/count out of range");
  const total = v.getUint16(OFF_TOTAL, true);
  if (total <= (count - 1) * FRAGMENT_CHUNK || total > count * FRAGMENT_CHUNK) {
    throw bad("TOTAL", "total length does not match fragment count");
  }
  const expected = index < count - 1 ? FRAGMENT_CHUNK : total - (count - 1) * FRAGMENT_CHUNK;
  const chunkLength = d.length - FRAGMENT_HEADER_SIZE - FRAGMENT_TRAILER_SIZE;
  if (chunkLength !== expected) throw bad("CHUNK", "chunk length does not match header");
  return {
    type,
    index,
    count,
    handshakeId: v.getUint32(OFF_HANDSHAKE_ID, true),
    total,
    chunk: d.subarray(FRAGMENT_HEADER_SIZE, FRAGMENT_HEADER_SIZE + chunkLength),
  };
}

/** The handshake id of a handshake fragment or cookie reply (same offset), for routing; undefined if too short. */
export function peekHandshakeId(d: Uint8Array): number | undefined {
  if (d.length < OFF_HANDSHAKE_ID + 4) return undefined;
  return new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(OFF_HANDSHAKE_ID, true);
}

function bad(code: string, message: string): FragmentMalformed {
  return new FragmentMalformed(`FRAGMENT_${code}`, message);
}
