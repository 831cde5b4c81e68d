/**
 * The Anchor transport message: encode, seal and open, in place, on caller-owned buffers.
 * The native data plane implements the same bytes (vectors in vectors/transport-messages.json).
 *
 *   0      1                  4                  8                                16
 *   | type | reserved (3, =0) | receiver u32 LE  | counter u64 LE                 |
 *   | ciphertext …                                                   | tag (16)   |
 *
 *   AAD   = the 16-byte header
 *   nonce = 4 zero bytes || counter as u64 LE            (12 bytes)
 *   key   = 32 bytes per direction (SessionKeys.sendKey / recvKey)
 *
 * type is MsgType.Transport (4; plaintext = one IP packet, empty = keepalive) or MsgType.PathCell
 * (5; plaintext = one path cell, see path/cell.ts). Both share the keypair's counter space, so a
 * (key, nonce) pair is never used twice whatever the type.
 *
 * Counters are JS numbers on the hot path: exact below 2^53, and a receiver refuses anything at or
 * above COUNTER_LIMIT before doing crypto.
 */
import type { AeadContext } from "./aead/aead.ts";
import { AEAD_NONCE_SIZE, AEAD_TAG_SIZE } from "./aead/aead.ts";
import { MsgType } from "./message-type.ts";
import { Drop } from "./transport-errors.ts";

/* Specification constants */
export const TRANSPORT_HEADER_SIZE = 16;
export const TRANSPORT_TAG_SIZE = AEAD_TAG_SIZE;
export const TRANSPORT_MIN_SIZE = TRANSPORT_HEADER_SIZE + TRANSPORT_TAG_SIZE;
export const OFF_TYPE = 0;
export const OFF_RESERVED = 1;
export const OFF_RECEIVER = 4;
export const OFF_COUNTER = 8;
/** Nonce bytes 4..11 carry the counter; bytes 0..3 are zero. */
export const NONCE_COUNTER_OFFSET = 4;
/** Messages with a counter at or above this are rejected (spec). */
export const REJECT_AFTER_MESSAGES = 2 ** 60;

/* Implementation constants */
/** Counters must be exact JS numbers: the effective reject limit is min(spec, 2^53). */
export const COUNTER_LIMIT = Math.min(REJECT_AFTER_MESSAGES, 2 ** 53);
/** Largest UDP payload we build: IPv6 minimum-MTU-safe links use far less. */
export const MAX_TRANSPORT_SIZE = 65535 - 48;

const TWO_32 = 2 ** 32;

/** A 12-byte counter nonce in an ArrayBuffer-backed array (safe to hand to FFI), rewritten per message. */
export class CounterNonce {
  readonly bytes = new Uint8Array(new ArrayBuffer(AEAD_NONCE_SIZE));
  /** Writes 4 zero bytes || counter (u64 LE). `counter` must be an integer in [0, 2^53). */
  set(counter: number): Uint8Array {
    const b = this.bytes;
    const lo = counter % TWO_32;
    const hi = (counter - lo) / TWO_32;
    b[4] = lo & 0xff;
    b[5] = (lo >>> 8) & 0xff;
    b[6] = (lo >>> 16) & 0xff;
    b[7] = (lo >>> 24) & 0xff;
    b[8] = hi & 0xff;
    b[9] = (hi >>> 8) & 0xff;
    b[10] = (hi >>> 16) & 0xff;
    b[11] = (hi >>> 24) & 0xff;
    return b;
  }
}

/** Writes the 16-byte header at `pos`. The caller guarantees room and a counter below COUNTER_LIMIT. */
export function writeTransportHeader(
  buf: Uint8Array,
  pos: number,
  type: number,
  receiver: number,
  counter: number,
): void {
  buf[pos] = type;
  buf[pos + 1] = 0;
  buf[pos + 2] = 0;
  buf[pos + 3] = 0;
  writeU32(buf, pos + OFF_RECEIVER, receiver >>> 0);
  const lo = counter % TWO_32;
  writeU32(buf, pos + OFF_COUNTER, lo);
  writeU32(buf, pos + OFF_COUNTER + 4, (counter - lo) / TWO_32);
}

/** The receiver field, as an unsigned 32-bit number. The caller checked the length. */
export function readReceiver(buf: Uint8Array, pos: number): number {
  return readU32(buf, pos + OFF_RECEIVER);
}

/** The counter field, or -1 when it is at or above COUNTER_LIMIT (so it cannot be a valid message). */
export function readCounter(buf: Uint8Array, pos: number): number {
  const hi = readU32(buf, pos + OFF_COUNTER + 4);
  if (hi >= COUNTER_LIMIT / TWO_32) return -1;
  return hi * TWO_32 + readU32(buf, pos + OFF_COUNTER);
}

/** A decoded header, reused by the caller across packets (no allocation per packet). */
export interface TransportHeader {
  type: number;
  receiver: number;
  counter: number;
}

export function newTransportHeader(): TransportHeader {
  return { type: 0, receiver: 0, counter: 0 };
}

/**
 * Checks the framing of a received message at `buf[pos, pos+len)` and decodes its header into
 * `out`. Returns 0, or the Drop reason. Does no crypto: the tag is checked by openTransport.
 */
export function parseTransportHeader(
  buf: Uint8Array,
  pos: number,
  len: number,
  out: TransportHeader,
): number {
  if (len < TRANSPORT_MIN_SIZE || pos < 0 || pos + len > buf.length) return Drop.Short;
  const type = buf[pos]!;
  if (type !== MsgType.Transport && type !== MsgType.PathCell) return Drop.BadType;
  if ((buf[pos + 1]! | buf[pos + 2]! | buf[pos + 3]!) !== 0) return Drop.Reserved;
  const counter = readCounter(buf, pos);
  if (counter < 0) return Drop.CounterLimit;
  out.type = type;
  out.receiver = readReceiver(buf, pos);
  out.counter = counter;
  return 0;
}

/**
 * Builds a transport message in place: the plaintext already sits at `buf[pos+16, pos+16+textLen)`;
 * the header is written in front of it and the tag after it. Returns the message length, or -1
 * (buffer too small, counter out of range, or a destroyed context).
 */
export function sealTransport(
  aead: AeadContext,
  nonce: CounterNonce,
  buf: Uint8Array,
  pos: number,
  type: number,
  receiver: number,
  counter: number,
  textLen: number,
): number {
  if (!(counter >= 0 && counter < COUNTER_LIMIT) || counter % 1 !== 0) return -1;
  if (pos < 0 || pos + TRANSPORT_MIN_SIZE + textLen > buf.length) return -1;
  writeTransportHeader(buf, pos, type, receiver, counter);
  return aead.seal(buf, pos, TRANSPORT_HEADER_SIZE, textLen, nonce.set(counter));
}

/**
 * Authenticates and decrypts a message whose header was parsed (counter given) in place. Returns
 * the plaintext length (plaintext at `buf[pos+16, …)`), or -1 on a bad tag.
 */
export function openTransport(
  aead: AeadContext,
  nonce: CounterNonce,
  buf: Uint8Array,
  pos: number,
  len: number,
  counter: number,
): number {
  return aead.open(buf, pos, TRANSPORT_HEADER_SIZE, len, nonce.set(counter));
}

function writeU32(b: Uint8Array, p: number, v: number): void {
  b[p] = v & 0xff;
  b[p + 1] = (v >>> 8) & 0xff;
  b[p + 2] = (v >>> 16) & 0xff;
  b[p + 3] = (v >>> 24) & 0xff;
}

function readU32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
}
