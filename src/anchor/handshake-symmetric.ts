/**
 * The handshake's key schedule: a Noise-style chaining key `ck` and transcript hash `h`.
 *
 *   ck0 = SHA-256(PROTOCOL_NAME)          h0 = SHA-256(ck0 || PROLOGUE)
 *   mixHash(x):      h = SHA-256(h || x)
 *   mixKey(label, ikm…): (ck, k) = HKDF-SHA-256(salt = ck, ikm = ikm1 || ikm2 …, info = label, L = 64)
 *   seal(k, p):      c = AES-256-GCM(k, nonce = 0^12, ad = h, p); mixHash(c)
 *   split():         (k_i2r, k_r2i) = HKDF-SHA-256(salt = ck, ikm = "", info = LABEL_TRANSPORT, L = 64)
 *
 * Every key from mixKey encrypts exactly one message, so the fixed zero nonce is safe. Each mixKey
 * that takes a classical and a post-quantum secret feeds both into one HKDF extraction, so the
 * output is secret as long as either input is.
 */
import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";
import { concatBytes, sha256, utf8 } from "./_bytes.ts";
import { HandshakeDecryptFailed } from "./errors.ts";

/* Specification constants */
export const PROTOCOL_NAME = "veilnet-anchor-v1_X25519+MLKEM768_AES256GCM_SHA256_HKDF";
export const PROLOGUE = "veilnet anchor handshake v1";
export const LABEL_INIT_STATIC = "veilnet anchor v1 init es+kem-static";
export const LABEL_INIT_SS = "veilnet anchor v1 init ss";
export const LABEL_RESP_EPHEMERAL = "veilnet anchor v1 resp ee+kem-ephemeral";
export const LABEL_RESP_STATIC = "veilnet anchor v1 resp se+kem-static";
export const LABEL_TRANSPORT = "veilnet anchor v1 transport keys";
export const AEAD_TAG_SIZE = 16;
export const KEY_SIZE = 32;
const ZERO_NONCE = new Uint8Array(12);
const CK0 = sha256(utf8.encode(PROTOCOL_NAME));
const H0 = sha256(concatBytes(CK0, utf8.encode(PROLOGUE)));

export class SymmetricState {
  private constructor(
    public ck: Uint8Array,
    public h: Uint8Array,
  ) {}

  /** Starts a transcript bound to the responder's certificate id. */
  static start(responderCertificateId: Uint8Array): SymmetricState {
    const s = new SymmetricState(CK0, H0);
    s.mixHash(responderCertificateId);
    return s;
  }

  clone(): SymmetricState {
    return new SymmetricState(this.ck, this.h);
  }

  mixHash(...parts: Uint8Array[]): void {
    this.h = sha256(this.h, ...parts);
  }

  /** Advances the chaining key with the concatenated secrets; returns a one-use message key. */
  mixKey(label: string, ...secrets: Uint8Array[]): Uint8Array {
    const out = new Uint8Array(hkdfSync("sha256", concatBytes(...secrets), this.ck, label, 2 * KEY_SIZE));
    this.ck = out.subarray(0, KEY_SIZE);
    return out.subarray(KEY_SIZE);
  }

  seal(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const c = createCipheriv("aes-256-gcm", key, ZERO_NONCE);
    c.setAAD(this.h);
    const out = concatBytes(c.update(plaintext), c.final(), c.getAuthTag());
    this.mixHash(out);
    return out;
  }

  /** Throws HandshakeDecryptFailed when the tag does not verify. */
  open(key: Uint8Array, sealed: Uint8Array): Uint8Array {
    if (sealed.length < AEAD_TAG_SIZE) throw decryptFailed();
    const d = createDecipheriv("aes-256-gcm", key, ZERO_NONCE);
    d.setAAD(this.h);
    d.setAuthTag(sealed.subarray(sealed.length - AEAD_TAG_SIZE));
    let plain: Uint8Array;
    try {
      plain = concatBytes(d.update(sealed.subarray(0, sealed.length - AEAD_TAG_SIZE)), d.final());
    } catch {
      throw decryptFailed();
    }
    this.mixHash(sealed);
    return plain;
  }

  /** The two transport keys: initiator→responder and responder→initiator. */
  split(): { initiatorToResponder: Uint8Array; responderToInitiator: Uint8Array } {
    const out = new Uint8Array(hkdfSync("sha256", new Uint8Array(0), this.ck, LABEL_TRANSPORT, 2 * KEY_SIZE));
    return { initiatorToResponder: out.slice(0, KEY_SIZE), responderToInitiator: out.slice(KEY_SIZE) };
  }
}

function decryptFailed(): HandshakeDecryptFailed {
  return new HandshakeDecryptFailed("HANDSHAKE_DECRYPT", "handshake field failed to authenticate");
}
