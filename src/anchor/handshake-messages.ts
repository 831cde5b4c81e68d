/**
 * Bodies of the two handshake messages (before fragmentation; see fragment.ts for the framing).
 * Fields appear in the order they enter the transcript. Little-endian integers.
 *
 *   HandshakeInitiation body                       HandshakeResponse body (2232 bytes)
 *   off   size   field                             off   size  field
 *   0     4      sender index (= handshake id)     0     4     sender index (responder's)
 *   4     32     ephemeral X25519 e_i              4     4     receiver index (= handshake id)
 *   36    1184   ephemeral ML-KEM-768 E_i          8     32    ephemeral X25519 e_r
 *   1220  1088   ML-KEM ct to responder static     40    1088  ML-KEM ct to E_i
 *   2308  C+16   sealed initiator certificate      1128  1088  ML-KEM ct to initiator static
 *   end-24 24    sealed timestamp (u64 µs)         2216  16    sealed empty (key confirmation)
 */
import { Reader } from "./_bytes.ts";
import { CERTIFICATE_MAX_SIZE, CERTIFICATE_MIN_SIZE } from "./certificate.ts";
import { HandshakeMalformed } from "./errors.ts";
import { MAX_HANDSHAKE_MESSAGE } from "./fragment.ts";
import { AEAD_TAG_SIZE } from "./handshake-symmetric.ts";
import { MLKEM768_CIPHERTEXT_SIZE, MLKEM768_PUBLIC_SIZE, X25519_PUBLIC_SIZE } from "./identity.ts";

/* Specification constants */
export const SEALED_TIMESTAMP_SIZE = 8 + AEAD_TAG_SIZE;
export const INITIATION_FIXED_SIZE = 4 + X25519_PUBLIC_SIZE + MLKEM768_PUBLIC_SIZE + MLKEM768_CIPHERTEXT_SIZE; // 2308
export const INITIATION_MIN_SIZE =
  INITIATION_FIXED_SIZE + CERTIFICATE_MIN_SIZE + AEAD_TAG_SIZE + SEALED_TIMESTAMP_SIZE;
export const INITIATION_MAX_SIZE =
  INITIATION_FIXED_SIZE + CERTIFICATE_MAX_SIZE + AEAD_TAG_SIZE + SEALED_TIMESTAMP_SIZE;
export const RESPONSE_SIZE = 4 + 4 + X25519_PUBLIC_SIZE + 2 * MLKEM768_CIPHERTEXT_SIZE + AEAD_TAG_SIZE; // 2232

if (INITIATION_MAX_SIZE > MAX_HANDSHAKE_MESSAGE) throw new Error("initiation cannot fit the fragment limit");

export interface InitiationBody {
  readonly sender: number;
  readonly ephemeralX25519: Uint8Array;
  readonly ephemeralMlKem: Uint8Array;
  readonly staticCiphertext: Uint8Array;
  readonly sealedCertificate: Uint8Array;
  readonly sealedTimestamp: Uint8Array;
}

export interface ResponseBody {
  readonly sender: number;
  readonly receiver: number;
  readonly ephemeralX25519: Uint8Array;
  readonly ephemeralCiphertext: Uint8Array;
  readonly staticCiphertext: Uint8Array;
  readonly confirmation: Uint8Array;
}

export function encodeInitiation(b: InitiationBody): Uint8Array {
  const out = new Uint8Array(INITIATION_FIXED_SIZE + b.sealedCertificate.length + SEALED_TIMESTAMP_SIZE);
  new DataView(out.buffer).setUint32(0, b.sender >>> 0, true);
  let o = 4;
  for (const part of [
    b.ephemeralX25519,
    b.ephemeralMlKem,
    b.staticCiphertext,
    b.sealedCertificate,
    b.sealedTimestamp,
  ]) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/** Splits an initiation body into its fields (views). Throws only HandshakeMalformed. */
export function parseInitiation(m: Uint8Array): InitiationBody {
  if (m.length < INITIATION_MIN_SIZE || m.length > INITIATION_MAX_SIZE) {
    throw new HandshakeMalformed("HANDSHAKE_INITIATION_SIZE", `initiation of ${m.length} bytes out of range`);
  }
  const r = new Reader(m, malformed);
  const sender = r.u32("sender");
  const ephemeralX25519 = r.bytesView(X25519_PUBLIC_SIZE, "ephemeral x25519");
  const ephemeralMlKem = r.bytesView(MLKEM768_PUBLIC_SIZE, "ephemeral ml-kem");
  const staticCiphertext = r.bytesView(MLKEM768_CIPHERTEXT_SIZE, "static ciphertext");
  const sealedCertificate = r.bytesView(r.remaining - SEALED_TIMESTAMP_SIZE, "sealed certificate");
  const sealedTimestamp = r.bytesView(SEALED_TIMESTAMP_SIZE, "sealed timestamp");
  r.end("initiation");
  return { sender, ephemeralX25519, ephemeralMlKem, staticCiphertext, sealedCertificate, sealedTimestamp };
}

export function encodeResponse(b: ResponseBody): Uint8Array {
  const out = new Uint8Array(RESPONSE_SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(0, b.sender >>> 0, true);
  v.setUint32(4, b.receiver >>> 0, true);
  let o = 8;
  for (const part of [b.ephemeralX25519, b.ephemeralCiphertext, b.staticCiphertext, b.confirmation]) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/** Splits a response body into its fields (views). Throws only HandshakeMalformed. */
export function parseResponse(m: Uint8Array): ResponseBody {
  if (m.length !== RESPONSE_SIZE) {
    throw new HandshakeMalformed("HANDSHAKE_RESPONSE_SIZE", `response must be ${RESPONSE_SIZE} bytes`);
  }
  const r = new Reader(m, malformed);
  return {
    sender: r.u32("sender"),
    receiver: r.u32("receiver"),
    ephemeralX25519: r.bytesView(X25519_PUBLIC_SIZE, "ephemeral x25519"),
    ephemeralCiphertext: r.bytesView(MLKEM768_CIPHERTEXT_SIZE, "ephemeral ciphertext"),
    staticCiphertext: r.bytesView(MLKEM768_CIPHERTEXT_SIZE, "static ciphertext"),
    confirmation: r.bytesView(AEAD_TAG_SIZE, "confirmation"),
  };
}

function malformed(code: string, message: string): HandshakeMalformed {
  return new HandshakeMalformed(`HANDSHAKE_${code}`, message);
}
