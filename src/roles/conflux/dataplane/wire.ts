/**
 * The Anchor transport message as the data plane sees it (docs/anchor-protocol.md).
 *
 *  0      1                 4                 8                              16
 *  | type | reserved (3, =0) | receiver u32 LE | counter u64 LE                | ciphertext … | tag (16) |
 *
 * AAD = the 16-byte header; nonce (12 bytes) = 4 zero bytes || counter (u64 LE);
 * AES-256-GCM with one 32-byte key per direction. Plaintext = one IP packet (empty = keepalive).
 */

/* Specification constants */
export const MSG_TYPE_TRANSPORT = 4;
export const TRANSPORT_HEADER_SIZE = 16;
export const OFF_TYPE = 0;
export const OFF_RECEIVER = 4;
export const OFF_COUNTER = 8;
export const TAG_SIZE = 16;
export const KEY_SIZE = 32;
export const NONCE_SIZE = 12;
/** Smallest valid transport message: header + tag (an empty keepalive). */
export const TRANSPORT_MIN_SIZE = TRANSPORT_HEADER_SIZE + TAG_SIZE;
/** A sending session must rekey well before this; counters at or above it are never used. */
export const REJECT_AFTER_MESSAGES = 2n ** 64n - 2n ** 13n - 1n;

/** The 12-byte nonce for `counter`: 4 zero bytes, then the counter little-endian. */
export function transportNonce(counter: bigint): Uint8Array {
  const n = new Uint8Array(NONCE_SIZE);
  new DataView(n.buffer).setBigUint64(4, counter, true);
  return n;
}

/** Writes the transport header for (`receiver`, `counter`) into `out[0..16)`. */
export function writeTransportHeader(out: Uint8Array, receiver: number, counter: bigint): void {
  const v = new DataView(out.buffer, out.byteOffset, TRANSPORT_HEADER_SIZE);
  v.setUint32(0, MSG_TYPE_TRANSPORT, true); // type byte + 3 zero reserved bytes
  v.setUint32(OFF_RECEIVER, receiver >>> 0, true);
  v.setBigUint64(OFF_COUNTER, counter, true);
}
