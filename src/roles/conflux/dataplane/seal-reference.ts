/**
 * A slow, readable reference of the transport seal/open with node:crypto, used to cross-check
 * the native data plane byte for byte and by tools that inject test traffic. Not on any hot path.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import {
  KEY_SIZE,
  MSG_TYPE_TRANSPORT,
  OFF_COUNTER,
  OFF_RECEIVER,
  TAG_SIZE,
  TRANSPORT_HEADER_SIZE,
  TRANSPORT_MIN_SIZE,
  transportNonce,
  writeTransportHeader,
} from "./wire.ts";

/** header ‖ AES-256-GCM(key, nonce(counter), aad = header, plaintext) ‖ tag; `type` 4 (transport) by default. */
export function referenceSeal(
  key: Uint8Array,
  receiver: number,
  counter: bigint,
  plaintext: Uint8Array,
  type = MSG_TYPE_TRANSPORT,
): Uint8Array {
  if (key.length !== KEY_SIZE) throw new RangeError("key must be 32 bytes");
  const out = new Uint8Array(TRANSPORT_HEADER_SIZE + plaintext.length + TAG_SIZE);
  writeTransportHeader(out, receiver, counter);
  out[0] = type;
  const c = createCipheriv("aes-256-gcm", key, transportNonce(counter));
  c.setAAD(out.subarray(0, TRANSPORT_HEADER_SIZE));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  out.set(ct, TRANSPORT_HEADER_SIZE);
  out.set(c.getAuthTag(), TRANSPORT_HEADER_SIZE + plaintext.length);
  return out;
}

export interface OpenedTransport {
  readonly receiver: number;
  readonly counter: bigint;
  readonly plaintext: Uint8Array;
}

/** Inverse of {@link referenceSeal}; null when malformed or the tag does not verify. */
export function referenceOpen(
  key: Uint8Array,
  msg: Uint8Array,
  type = MSG_TYPE_TRANSPORT,
): OpenedTransport | null {
  if (msg.length < TRANSPORT_MIN_SIZE || msg[0] !== type || msg[1] || msg[2] || msg[3]) return null;
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const counter = v.getBigUint64(OFF_COUNTER, true);
  const d = createDecipheriv("aes-256-gcm", key, transportNonce(counter));
  d.setAAD(msg.subarray(0, TRANSPORT_HEADER_SIZE));
  d.setAuthTag(msg.subarray(msg.length - TAG_SIZE));
  try {
    const pt = Buffer.concat([
      d.update(msg.subarray(TRANSPORT_HEADER_SIZE, msg.length - TAG_SIZE)),
      d.final(),
    ]);
    return { receiver: v.getUint32(OFF_RECEIVER, true), counter, plaintext: new Uint8Array(pt) };
  } catch {
    return null;
  }
}
