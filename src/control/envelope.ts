/**
 * The control-message envelope: every message on Master is one of these, signed by the sender's
 * hybrid identity key (Ed25519 + ML-DSA-65; both must verify). All integers big-endian.
 *
 *   0       1       2                               34                              66
 *   | ver=1 | kind  | sender node id (32)           | recipient node id (32, 0 = all) |
 *   66                82                90                98       99
 *   | nonce (16)      | issued ms (u64) | expires ms (u64)| topicLen | topic (≤ 255, ASCII)
 *   | body length (u32) | body | signature (3373 = 64 Ed25519 + 3309 ML-DSA-65)
 *
 * The signature covers every byte before it, under context SIGNATURE_CONTEXT. The topic is the NATS
 * subject the message is meant for (or `reply.<request nonce hex>` for a reply), so a signed
 * message cannot be re-published elsewhere. kind Sealed: the body is sealed to the recipient
 * (seal.ts) with the header (bytes 0 .. body length field) as associated data.
 */
import { HYBRID_SIGNATURE_SIZE, NODE_ID_SIZE } from "../anchor/identity.ts";

/* Specification constants */
export const ENVELOPE_VERSION = 1;
export const EnvelopeKind = { Signed: 1, Sealed: 2 } as const;
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];
export const SIGNATURE_CONTEXT = "veilnet control envelope v1";
export const NONCE_SIZE = 16;
export const OFF_KIND = 1;
export const OFF_SENDER = 2;
export const OFF_RECIPIENT = OFF_SENDER + NODE_ID_SIZE; // 34
export const OFF_NONCE = OFF_RECIPIENT + NODE_ID_SIZE; // 66
export const OFF_ISSUED = OFF_NONCE + NONCE_SIZE; // 82
export const OFF_EXPIRES = OFF_ISSUED + 8; // 90
export const OFF_TOPIC_LEN = OFF_EXPIRES + 8; // 98
export const FIXED_HEADER_SIZE = OFF_TOPIC_LEN + 1; // 99
export const MAX_TOPIC_SIZE = 255;
/* Implementation constants */
export const MAX_BODY_SIZE = 64 * 1024;

export interface EnvelopeFields {
  readonly kind: EnvelopeKind;
  readonly sender: Uint8Array;
  /** All zero for a broadcast. */
  readonly recipient: Uint8Array;
  readonly nonce: Uint8Array;
  readonly issuedMs: number;
  readonly expiresMs: number;
  readonly topic: string;
}

/** A parsed envelope; byte fields are views into the received buffer (borrowed). */
export interface Envelope extends EnvelopeFields {
  /** Header bytes: associated data of a sealed body. */
  readonly header: Uint8Array;
  readonly body: Uint8Array;
  /** The signed region (everything before the signature). */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

export const BROADCAST = new Uint8Array(NODE_ID_SIZE);

/** Encodes the header (up to, not including, the body length field). */
export function encodeHeader(f: EnvelopeFields): Uint8Array {
  const topic = new TextEncoder().encode(f.topic);
  if (topic.length > MAX_TOPIC_SIZE || !/^[\x21-\x7e]*$/.test(f.topic))
    throw new RangeError("bad envelope topic");
  if (
    f.sender.length !== NODE_ID_SIZE ||
    f.recipient.length !== NODE_ID_SIZE ||
    f.nonce.length !== NONCE_SIZE
  ) {
    throw new RangeError("bad envelope id or nonce size");
  }
  const out = new Uint8Array(FIXED_HEADER_SIZE + topic.length);
  const v = new DataView(out.buffer);
  out[0] = ENVELOPE_VERSION;
  out[OFF_KIND] = f.kind;
  out.set(f.sender, OFF_SENDER);
  out.set(f.recipient, OFF_RECIPIENT);
  out.set(f.nonce, OFF_NONCE);
  v.setBigUint64(OFF_ISSUED, BigInt(f.issuedMs));
  v.setBigUint64(OFF_EXPIRES, BigInt(f.expiresMs));
  out[OFF_TOPIC_LEN] = topic.length;
  out.set(topic, FIXED_HEADER_SIZE);
  return out;
}

/** header || body length || body, ready to sign. */
export function encodeSignedRegion(header: Uint8Array, body: Uint8Array): Uint8Array {
  if (body.length > MAX_BODY_SIZE) throw new RangeError("envelope body too large");
  const out = new Uint8Array(header.length + 4 + body.length);
  out.set(header, 0);
  new DataView(out.buffer).setUint32(header.length, body.length);
  out.set(body, header.length + 4);
  return out;
}

/** signed region || signature. */
export function assembleEnvelope(signedRegion: Uint8Array, signature: Uint8Array): Uint8Array {
  const out = new Uint8Array(signedRegion.length + signature.length);
  out.set(signedRegion, 0);
  out.set(signature, signedRegion.length);
  return out;
}

/** Parses an untrusted buffer; null when malformed (exact sizes, known version and kind). */
export function parseEnvelope(buf: Uint8Array): Envelope | null {
  if (buf.length < FIXED_HEADER_SIZE + 4 + HYBRID_SIGNATURE_SIZE) return null;
  if (buf[0] !== ENVELOPE_VERSION) return null;
  const kind = buf[OFF_KIND];
  if (kind !== EnvelopeKind.Signed && kind !== EnvelopeKind.Sealed) return null;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const topicLen = buf[OFF_TOPIC_LEN] ?? 0;
  const headerEnd = FIXED_HEADER_SIZE + topicLen;
  if (buf.length < headerEnd + 4 + HYBRID_SIGNATURE_SIZE) return null;
  const bodyLen = v.getUint32(headerEnd);
  const bodyStart = headerEnd + 4;
  if (bodyLen > MAX_BODY_SIZE || buf.length !== bodyStart + bodyLen + HYBRID_SIGNATURE_SIZE) return null;
  const issued = v.getBigUint64(OFF_ISSUED);
  const expires = v.getBigUint64(OFF_EXPIRES);
  if (issued > BigInt(Number.MAX_SAFE_INTEGER) || expires > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  const topicBytes = buf.subarray(FIXED_HEADER_SIZE, headerEnd);
  for (const b of topicBytes) if (b < 0x21 || b > 0x7e) return null;
  return {
    kind,
    sender: buf.subarray(OFF_SENDER, OFF_RECIPIENT),
    recipient: buf.subarray(OFF_RECIPIENT, OFF_NONCE),
    nonce: buf.subarray(OFF_NONCE, OFF_ISSUED),
    issuedMs: Number(issued),
    expiresMs: Number(expires),
    topic: new TextDecoder().decode(topicBytes),
    header: buf.subarray(0, headerEnd),
    body: buf.subarray(bodyStart, bodyStart + bodyLen),
    signed: buf.subarray(0, bodyStart + bodyLen),
    signature: buf.subarray(bodyStart + bodyLen),
  };
}

export function isBroadcast(recipient: Uint8Array): boolean {
  for (const b of recipient) if (b !== 0) return false;
  return true;
}
