/**
 * Sealing a control message to one recipient's certified static keys: hybrid KEM (an ephemeral
 * X25519 exchange with the recipient's static X25519 key, and ML-KEM-768 encapsulation to its
 * static ML-KEM key) → HKDF-SHA-256 → AES-256-GCM. Confidential unless both X25519 and ML-KEM-768
 * are broken. The key is fresh per message, so the GCM nonce is a constant zero.
 *
 *   sealed = ephemeral X25519 public (32) | ML-KEM-768 ciphertext (1088) | AES-GCM ciphertext | tag (16)
 *
 * HKDF info binds both KEM transcripts, the recipient's static X25519 key, and the sender and
 * recipient ids and nonce (all in `ad`, the envelope header), so a sealed body cannot be re-signed
 * and re-sent under another sender's name.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import {
  EphemeralX25519,
  type Identity,
  MLKEM768_CIPHERTEXT_SIZE,
  type PublicKeys,
  X25519_PUBLIC_SIZE,
} from "../anchor/identity.ts";

/* Specification constants */
export const SEAL_SALT = new TextEncoder().encode("veilnet control seal v1");
export const SEAL_TAG_SIZE = 16;
export const SEAL_OVERHEAD = X25519_PUBLIC_SIZE + MLKEM768_CIPHERTEXT_SIZE + SEAL_TAG_SIZE;
const ZERO_IV = new Uint8Array(12);

/** Seals `plaintext` to `recipient`; `ad` (the envelope header) is authenticated, not encrypted. */
export function seal(recipient: PublicKeys, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const eph = new EphemeralX25519();
  const classical = eph.shared(recipient.x25519);
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(recipient.mlkem768);
  const key = deriveKey(classical, sharedSecret, eph.publicKey, cipherText, recipient.x25519, ad);
  const c = createCipheriv("aes-256-gcm", key, ZERO_IV);
  c.setAAD(ad);
  const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  key.fill(0);
  classical.fill(0);
  sharedSecret.fill(0);
  const out = new Uint8Array(X25519_PUBLIC_SIZE + MLKEM768_CIPHERTEXT_SIZE + body.length);
  out.set(eph.publicKey, 0);
  out.set(cipherText, X25519_PUBLIC_SIZE);
  out.set(body, X25519_PUBLIC_SIZE + MLKEM768_CIPHERTEXT_SIZE);
  return out;
}

/** Opens a sealed body with our identity; null if it does not authenticate (never throws). */
export function open(identity: Identity, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null {
  if (sealed.length < SEAL_OVERHEAD) return null;
  try {
    const ephPub = sealed.subarray(0, X25519_PUBLIC_SIZE);
    const kemCt = sealed.subarray(X25519_PUBLIC_SIZE, X25519_PUBLIC_SIZE + MLKEM768_CIPHERTEXT_SIZE);
    const ct = sealed.subarray(X25519_PUBLIC_SIZE + MLKEM768_CIPHERTEXT_SIZE, sealed.length - SEAL_TAG_SIZE);
    const tag = sealed.subarray(sealed.length - SEAL_TAG_SIZE);
    const classical = identity.x25519(ephPub);
    const pq = identity.decapsulate(kemCt);
    const key = deriveKey(classical, pq, ephPub, kemCt, identity.publicKeys.x25519, ad);
    const d = createDecipheriv("aes-256-gcm", key, ZERO_IV);
    d.setAAD(ad);
    d.setAuthTag(tag);
    const out = Buffer.concat([d.update(ct), d.final()]);
    key.fill(0);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    return null;
  }
}

function deriveKey(
  classical: Uint8Array,
  pq: Uint8Array,
  ephPub: Uint8Array,
  kemCt: Uint8Array,
  recipientX25519: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  const ikm = new Uint8Array(classical.length + pq.length);
  ikm.set(classical, 0);
  ikm.set(pq, classical.length);
  const h = sha256.create();
  h.update(ephPub);
  h.update(kemCt);
  h.update(recipientX25519);
  h.update(ad);
  const key = hkdf(sha256, ikm, SEAL_SALT, h.digest(), 32);
  ikm.fill(0);
  return key;
}
