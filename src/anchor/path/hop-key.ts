/**
 * Hop keys: a one-way authenticated hybrid KEM from the path's origin to one hop, carried in a
 * CREATE cell (the "skin"). The origin encapsulates to the hop's certified static X25519 and
 * ML-KEM-768 keys with fresh ephemeral material; only that hop can derive the keys, and the hop
 * learns nothing about who the origin is (the previous hop is all it sees). The keys protect the
 * EXTEND instruction meant for that hop from every hop before it, so no relay learns the route
 * beyond its neighbours. Data never uses hop keys (only the end-to-end session does).
 *
 *   skin = e_pub (32) || ML-KEM-768 ciphertext (1088)
 *   (forward, backward) = HKDF-SHA-256(ikm = X25519(e, S_hop) || ss_kem,
 *                                      salt = HOP_KEY_LABEL, info = skin || S_hop.x25519, 64)
 *   confirm  = AES-256-GCM(backward, nonce 0, aad "created", empty)      (16 bytes)
 *   EXTEND   = seq u32 || AES-256-GCM(forward, nonce = seq, aad "extend", plain)
 */
import { gcm } from "@noble/ciphers/aes.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { EphemeralX25519, type Identity } from "../identity.ts";
import { CONFIRM_SIZE, SKIN_SIZE } from "./cell.ts";

/* Specification constants */
export const HOP_KEY_LABEL = "veilnet path hop keys v1";
const AAD_CREATED = new TextEncoder().encode("created");
const AAD_EXTEND = new TextEncoder().encode("extend");
const X25519_SIZE = 32;

export interface HopKeys {
  /** origin → hop */
  readonly forward: Uint8Array;
  /** hop → origin */
  readonly backward: Uint8Array;
}

/** What the origin needs to know about a hop: its node id and certified static KEM keys. */
export interface HopInfo {
  readonly nodeId: Uint8Array;
  readonly x25519: Uint8Array;
  readonly mlkem768: Uint8Array;
}

function derive(x: Uint8Array, kem: Uint8Array, skin: Uint8Array, hopX25519: Uint8Array): HopKeys {
  const ikm = new Uint8Array(x.length + kem.length);
  ikm.set(x);
  ikm.set(kem, x.length);
  const info = new Uint8Array(skin.length + hopX25519.length);
  info.set(skin);
  info.set(hopX25519, skin.length);
  const okm = hkdf(sha256, ikm, new TextEncoder().encode(HOP_KEY_LABEL), info, 64);
  ikm.fill(0);
  return { forward: okm.slice(0, 32), backward: okm.slice(32, 64) };
}

/** Origin side: a skin for `hop` and the keys it yields. */
export function makeSkin(hop: HopInfo): { skin: Uint8Array; keys: HopKeys } {
  const eph = new EphemeralX25519();
  const x = eph.shared(hop.x25519);
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(hop.mlkem768);
  const skin = new Uint8Array(SKIN_SIZE);
  skin.set(eph.publicKey);
  skin.set(cipherText, X25519_SIZE);
  const keys = derive(x, sharedSecret, skin, hop.x25519);
  x.fill(0);
  sharedSecret.fill(0);
  return { skin, keys };
}

/** Hop side: derives the keys from a skin, or null for a malformed one. Never throws. */
export function acceptSkin(identity: Identity, skin: Uint8Array): HopKeys | null {
  if (skin.length !== SKIN_SIZE) return null;
  try {
    const x = identity.x25519(skin.subarray(0, X25519_SIZE));
    const kem = identity.decapsulate(skin.subarray(X25519_SIZE));
    const keys = derive(x, kem, skin, identity.publicKeys.x25519);
    x.fill(0);
    kem.fill(0);
    return keys;
  } catch {
    return null;
  }
}

function nonce(seq: number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(0, seq, true);
  return n;
}

/** The hop's proof of key possession, sent back in CREATED. */
export function confirmTag(keys: HopKeys): Uint8Array {
  return gcm(keys.backward, nonce(0), AAD_CREATED).encrypt(new Uint8Array(0));
}

export function checkConfirm(keys: HopKeys, tag: Uint8Array): boolean {
  if (tag.length !== CONFIRM_SIZE) return false;
  const want = confirmTag(keys);
  let diff = 0;
  for (let i = 0; i < CONFIRM_SIZE; i++) diff |= want[i]! ^ tag[i]!;
  return diff === 0;
}

/** EXTEND body: seq u32 LE || sealed(plain). */
export function sealExtend(keys: HopKeys, seq: number, plain: Uint8Array): Uint8Array {
  const sealed = gcm(keys.forward, nonce(seq), AAD_EXTEND).encrypt(plain);
  const out = new Uint8Array(4 + sealed.length);
  new DataView(out.buffer).setUint32(0, seq, true);
  out.set(sealed, 4);
  return out;
}

/** Opens an EXTEND body; returns seq and plaintext, or null. Never throws. */
export function openExtend(keys: HopKeys, body: Uint8Array): { seq: number; plain: Uint8Array } | null {
  if (body.length < 4 + 16) return null;
  const seq = new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true);
  try {
    const plain = gcm(keys.forward, nonce(seq), AAD_EXTEND).decrypt(body.subarray(4));
    return { seq, plain };
  } catch {
    return null;
  }
}
