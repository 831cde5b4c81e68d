/**
 * Node identity: hybrid signature keys (Ed25519 + ML-DSA-65) and static KEM keys (X25519 + ML-KEM-768).
 *
 * A hybrid signature is valid only if both halves verify, so forging one needs both Ed25519 and
 * ML-DSA-65 broken. Classical halves go through node:crypto (10x faster than pure JS here); the
 * post-quantum halves through @noble/post-quantum. Every secret is derived from seeds, so the whole
 * identity is 160 bytes on disk.
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  randomBytes,
} from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { IdentityError } from "./errors.ts";

/* Specification constants */
export const ED25519_PUBLIC_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;
export const MLDSA65_PUBLIC_SIZE = 1952;
export const MLDSA65_SIGNATURE_SIZE = 3309;
export const X25519_PUBLIC_SIZE = 32;
export const MLKEM768_PUBLIC_SIZE = 1184;
export const MLKEM768_CIPHERTEXT_SIZE = 1088;
export const HYBRID_SIGNATURE_SIZE = ED25519_SIGNATURE_SIZE + MLDSA65_SIGNATURE_SIZE;
export const NODE_ID_SIZE = 32;
export const NODE_ID_LABEL = "veilnet node id v1";

/* Layout of the secret seed file: version(1) | ed25519(32) | mldsa65(32) | x25519(32) | mlkem768(64) */
export const IDENTITY_SECRET_VERSION = 1;
export const IDENTITY_SECRET_SIZE = 1 + 32 + 32 + 32 + 64;

// DER prefixes that wrap a raw 32-byte key in PKCS#8 / SPKI for node:crypto (RFC 8410).
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");

/** The public half of a node or Guardian identity, as carried in certificates. */
export interface PublicKeys {
  readonly ed25519: Uint8Array;
  readonly mldsa65: Uint8Array;
  readonly x25519: Uint8Array;
  readonly mlkem768: Uint8Array;
}

/** A hybrid signing key pair (Guardian realm keys use only this half). */
export interface SigningKeys {
  readonly ed25519Public: Uint8Array;
  readonly mldsa65Public: Uint8Array;
  sign(message: Uint8Array, context: string): Uint8Array;
}

/** A full node identity: signing keys, static KEM keys, and the derived node id. */
export class Identity implements SigningKeys {
  readonly publicKeys: PublicKeys;
  readonly nodeId: Uint8Array;
  readonly #seed: Uint8Array;
  readonly #ed25519: KeyObject;
  readonly #x25519: KeyObject;
  readonly #mldsaSecret: Uint8Array;
  readonly #mlkemSecret: Uint8Array;

  private constructor(seed: Uint8Array) {
    this.#seed = seed;
    this.#ed25519 = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519, seed.subarray(1, 33)]),
      format: "der",
      type: "pkcs8",
    });
    const dsa = ml_dsa65.keygen(seed.subarray(33, 65));
    this.#x25519 = createPrivateKey({
      key: Buffer.concat([PKCS8_X25519, seed.subarray(65, 97)]),
      format: "der",
      type: "pkcs8",
    });
    const kem = ml_kem768.keygen(seed.subarray(97, 161));
    this.#mldsaSecret = dsa.secretKey;
    this.#mlkemSecret = kem.secretKey;
    this.publicKeys = Object.freeze({
      ed25519: rawPublic(this.#ed25519),
      mldsa65: dsa.publicKey,
      x25519: rawPublic(this.#x25519),
      mlkem768: kem.publicKey,
    });
    this.nodeId = nodeIdOf(this.publicKeys);
  }

  static generate(): Identity {
    const seed = new Uint8Array(IDENTITY_SECRET_SIZE);
    seed[0] = IDENTITY_SECRET_VERSION;
    seed.set(randomBytes(IDENTITY_SECRET_SIZE - 1), 1);
    return new Identity(seed);
  }

  /** Parses the 161-byte secret file content; rejects anything else without echoing it. */
  static fromSecret(secret: Uint8Array): Identity {
    if (secret.length !== IDENTITY_SECRET_SIZE) {
      throw new IdentityError("IDENTITY_BAD_SIZE", `identity secret must be ${IDENTITY_SECRET_SIZE} bytes`);
    }
    if (secret[0] !== IDENTITY_SECRET_VERSION) {
      throw new IdentityError("IDENTITY_BAD_VERSION", `unsupported identity secret version ${secret[0]}`);
    }
    return new Identity(Uint8Array.from(secret));
  }

  /** The secret seed bytes, for writing to a 0600 file. Never log them. */
  exportSecret(): Uint8Array {
    return Uint8Array.from(this.#seed);
  }

  get ed25519Public(): Uint8Array {
    return this.publicKeys.ed25519;
  }
  get mldsa65Public(): Uint8Array {
    return this.publicKeys.mldsa65;
  }

  /** Hybrid signature: ed25519(64) || ml-dsa-65(3309) over a domain-separated message. */
  sign(message: Uint8Array, context: string): Uint8Array {
    const framed = frame(context, message);
    const out = new Uint8Array(HYBRID_SIGNATURE_SIZE);
    out.set(nodeSign(null, framed, this.#ed25519), 0);
    out.set(ml_dsa65.sign(framed, this.#mldsaSecret), ED25519_SIGNATURE_SIZE);
    return out;
  }

  /** X25519 with our static key. Throws on an all-zero result (a small-order peer key). */
  x25519(peerPublic: Uint8Array): Uint8Array {
    return x25519Shared(this.#x25519, peerPublic);
  }

  /** ML-KEM-768 decapsulation with our static key. */
  decapsulate(ciphertext: Uint8Array): Uint8Array {
    return ml_kem768.decapsulate(ciphertext, this.#mlkemSecret);
  }
}

/** Verifies a hybrid signature: both halves must verify. Never throws on malformed input. */
export function verifyHybrid(
  signature: Uint8Array,
  message: Uint8Array,
  context: string,
  ed25519Public: Uint8Array,
  mldsa65Public: Uint8Array,
): boolean {
  if (signature.length !== HYBRID_SIGNATURE_SIZE) return false;
  if (ed25519Public.length !== ED25519_PUBLIC_SIZE || mldsa65Public.length !== MLDSA65_PUBLIC_SIZE)
    return false;
  const framed = frame(context, message);
  try {
    const edKey = createPublicKey({
      key: Buffer.concat([SPKI_ED25519, ed25519Public]),
      format: "der",
      type: "spki",
    });
    if (!nodeVerify(null, framed, edKey, signature.subarray(0, ED25519_SIGNATURE_SIZE))) return false;
    return ml_dsa65.verify(signature.subarray(ED25519_SIGNATURE_SIZE), framed, mldsa65Public);
  } catch {
    return false;
  }
}

/** An ephemeral X25519 key pair (forward secrecy in handshakes). */
export class EphemeralX25519 {
  readonly publicKey: Uint8Array;
  readonly #secret: KeyObject;
  constructor() {
    const raw = randomBytes(32);
    this.#secret = createPrivateKey({
      key: Buffer.concat([PKCS8_X25519, raw]),
      format: "der",
      type: "pkcs8",
    });
    raw.fill(0);
    this.publicKey = rawPublic(this.#secret);
  }
  shared(peerPublic: Uint8Array): Uint8Array {
    return x25519Shared(this.#secret, peerPublic);
  }
}

/** The node id: SHA-256 over a label and all four public keys, so it commits to the whole identity. */
export function nodeIdOf(keys: PublicKeys): Uint8Array {
  const h = sha256.create();
  h.update(new TextEncoder().encode(NODE_ID_LABEL));
  h.update(keys.ed25519);
  h.update(keys.mldsa65);
  h.update(keys.x25519);
  h.update(keys.mlkem768);
  return h.digest();
}

function x25519Shared(secret: KeyObject, peerPublic: Uint8Array): Uint8Array {
  if (peerPublic.length !== X25519_PUBLIC_SIZE) {
    throw new IdentityError("IDENTITY_BAD_X25519", "x25519 public key must be 32 bytes");
  }
  const publicKey = createPublicKey({
    key: Buffer.concat([SPKI_X25519, peerPublic]),
    format: "der",
    type: "spki",
  });
  const shared = new Uint8Array(diffieHellman({ privateKey: secret, publicKey }));
  if (shared.every((b) => b === 0))
    throw new IdentityError("IDENTITY_WEAK_X25519", "x25519 result is all zero");
  return shared;
}

function rawPublic(privateKey: KeyObject): Uint8Array {
  const der = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - 32));
}

function frame(context: string, message: Uint8Array): Uint8Array {
  const label = new TextEncoder().encode(context);
  if (label.length > 255)
    throw new IdentityError("IDENTITY_BAD_CONTEXT", "signature context longer than 255 bytes");
  const out = new Uint8Array(1 + label.length + message.length);
  out[0] = label.length;
  out.set(label, 1);
  out.set(message, 1 + label.length);
  return out;
}
