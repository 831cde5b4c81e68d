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
} from "node:crypto";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { sha256 } from "./_bytes.ts";
import { IdentityError } from "./errors.ts";
import { type Rng, systemRng } from "./rng.ts";

export { IdentityError };

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
export const ISSUER_KEY_ID_SIZE = 16;
export const ISSUER_KEY_ID_LABEL = "veilnet issuer key id v1";
export const MLKEM768_SHARED_SIZE = 32;

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
  /** `random` (32 bytes) hedges the ML-DSA half; omit it to use the system CSPRNG. */
  sign(message: Uint8Array, context: string, random?: Uint8Array): Uint8Array;
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

  /** A fresh identity; `rng` is injectable so that test vectors are reproducible. */
  static generate(rng: Rng = systemRng): Identity {
    const seed = new Uint8Array(IDENTITY_SECRET_SIZE);
    seed[0] = IDENTITY_SECRET_VERSION;
    seed.set(rng(IDENTITY_SECRET_SIZE - 1), 1);
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
  sign(message: Uint8Array, context: string, random?: Uint8Array): Uint8Array {
    const framed = frame(context, message);
    const out = new Uint8Array(HYBRID_SIGNATURE_SIZE);
    out.set(nodeSign(null, framed, this.#ed25519), 0);
    const opts = random === undefined ? {} : { extraEntropy: random };
    out.set(ml_dsa65.sign(framed, this.#mldsaSecret, opts), ED25519_SIGNATURE_SIZE);
    return out;
  }

  /** X25519 with our static key. Throws on an all-zero result (a small-order peer key). */
  x25519(peerPublic: Uint8Array): Uint8Array {
    return x25519Shared(this.#x25519, peerPublic);
  }

  /** ML-KEM-768 decapsulation with our static key. */
  decapsulate(ciphertext: Uint8Array): Uint8Array {
    if (ciphertext.length !== MLKEM768_CIPHERTEXT_SIZE) {
      throw new IdentityError("IDENTITY_BAD_MLKEM_CT", "ml-kem-768 ciphertext must be 1088 bytes");
    }
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
  constructor(rng: Rng = systemRng) {
    const raw = rng(32);
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

/** An ephemeral ML-KEM-768 key pair: the post-quantum half of the handshake's forward secrecy. */
export class EphemeralMlKem768 {
  readonly publicKey: Uint8Array;
  #secret: Uint8Array;
  constructor(rng: Rng = systemRng) {
    const seed = rng(64);
    const kp = ml_kem768.keygen(seed);
    seed.fill(0);
    this.publicKey = kp.publicKey;
    this.#secret = kp.secretKey;
  }
  decapsulate(ciphertext: Uint8Array): Uint8Array {
    if (ciphertext.length !== MLKEM768_CIPHERTEXT_SIZE) {
      throw new IdentityError("IDENTITY_BAD_MLKEM_CT", "ml-kem-768 ciphertext must be 1088 bytes");
    }
    return ml_kem768.decapsulate(ciphertext, this.#secret);
  }
  /** Overwrites the secret key; the object must not be used afterwards. */
  wipe(): void {
    this.#secret.fill(0);
    this.#secret = new Uint8Array(0);
  }
}

/** A peer's ML-KEM-768 public key, expanded once so that repeated encapsulations are cheaper. */
export class MlKemRecipient {
  readonly #prepared: { encapsulate(msg: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array } };
  constructor(publicKey: Uint8Array) {
    if (publicKey.length !== MLKEM768_PUBLIC_SIZE) {
      throw new IdentityError("IDENTITY_BAD_MLKEM", "ml-kem-768 public key must be 1184 bytes");
    }
    try {
      this.#prepared = ml_kem768.prepare(publicKey);
    } catch {
      throw new IdentityError("IDENTITY_BAD_MLKEM", "ml-kem-768 public key is not canonical");
    }
  }
  /** Returns the ciphertext and the 32-byte shared secret; `rng` supplies the 32-byte message. */
  encapsulate(rng: Rng = systemRng): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
    const msg = rng(32);
    const out = this.#prepared.encapsulate(msg);
    msg.fill(0);
    return out;
  }
}

/** Encapsulates to a one-off ML-KEM-768 public key (an ephemeral key seen once). */
export function mlKemEncapsulate(
  publicKey: Uint8Array,
  rng: Rng = systemRng,
): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  if (publicKey.length !== MLKEM768_PUBLIC_SIZE) {
    throw new IdentityError("IDENTITY_BAD_MLKEM", "ml-kem-768 public key must be 1184 bytes");
  }
  const msg = rng(32);
  try {
    return ml_kem768.encapsulate(publicKey, msg);
  } catch {
    throw new IdentityError("IDENTITY_BAD_MLKEM", "ml-kem-768 public key is not canonical");
  } finally {
    msg.fill(0);
  }
}

/** The id of a Guardian (issuer) signing key: SHA-256 over a label and both public halves, 16 bytes. */
export function issuerKeyIdOf(keys: Pick<SigningKeys, "ed25519Public" | "mldsa65Public">): Uint8Array {
  return sha256(new TextEncoder().encode(ISSUER_KEY_ID_LABEL), keys.ed25519Public, keys.mldsa65Public).slice(
    0,
    ISSUER_KEY_ID_SIZE,
  );
}

/** The node id: SHA-256 over a label and all four public keys, so it commits to the whole identity. */
export function nodeIdOf(keys: PublicKeys): Uint8Array {
  return sha256(
    new TextEncoder().encode(NODE_ID_LABEL),
    keys.ed25519,
    keys.mldsa65,
    keys.x25519,
    keys.mlkem768,
  );
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
