/**
 * AES-256-GCM through node:crypto: the fallback where libcrypto cannot be loaded through bun:ffi.
 *
 * Same bytes as the OpenSSL backend (same suite), but node:crypto has no update-into-buffer API,
 * so each call creates a cipher object and copies its output back into the caller's buffer
 * (~1.8 µs per 1420-byte packet against 0.7 µs for OpenSSL in place). Fine off the hot path.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import {
  AEAD_KEY_SIZE,
  AEAD_NONCE_SIZE,
  AEAD_TAG_SIZE,
  type AeadBackend,
  type AeadContext,
  fitsOpen,
  fitsSeal,
  Suite,
} from "./aead.ts";
import { AeadError } from "./errors.ts";

const ALGORITHM = "aes-256-gcm";

class NodeCryptoContext implements AeadContext {
  #key: KeyObject | null;

  constructor(key: Uint8Array) {
    this.#key = createSecretKey(Uint8Array.from(key));
  }

  seal(buf: Uint8Array, pos: number, aadLen: number, textLen: number, nonce: Uint8Array): number {
    const key = this.#key;
    if (key === null || nonce.length !== AEAD_NONCE_SIZE || !fitsSeal(buf, pos, aadLen, textLen)) return -1;
    const c = createCipheriv(ALGORITHM, key, nonce, { authTagLength: AEAD_TAG_SIZE });
    if (aadLen > 0) c.setAAD(buf.subarray(pos, pos + aadLen));
    const start = pos + aadLen;
    const out = c.update(buf.subarray(start, start + textLen));
    buf.set(out, start);
    c.final();
    buf.set(c.getAuthTag(), start + textLen);
    return aadLen + textLen + AEAD_TAG_SIZE;
  }

  open(buf: Uint8Array, pos: number, aadLen: number, sealedLen: number, nonce: Uint8Array): number {
    const key = this.#key;
    if (key === null || nonce.length !== AEAD_NONCE_SIZE || !fitsOpen(buf, pos, aadLen, sealedLen)) return -1;
    const start = pos + aadLen;
    const textLen = sealedLen - aadLen - AEAD_TAG_SIZE;
    try {
      const d = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: AEAD_TAG_SIZE });
      if (aadLen > 0) d.setAAD(buf.subarray(pos, pos + aadLen));
      d.setAuthTag(buf.subarray(start + textLen, start + textLen + AEAD_TAG_SIZE));
      const out = d.update(buf.subarray(start, start + textLen));
      d.final(); // throws on a bad tag: nothing is written back then
      buf.set(out, start);
      return textLen;
    } catch {
      return -1;
    }
  }

  destroy(): void {
    this.#key = null;
  }
}

export function nodeCryptoBackend(): AeadBackend {
  return {
    name: "node-crypto",
    suite: Suite.Aes256Gcm,
    create(key: Uint8Array): AeadContext {
      if (key.length !== AEAD_KEY_SIZE)
        throw new AeadError("AEAD_BAD_KEY", "AES-256-GCM key must be 32 bytes");
      return new NodeCryptoContext(key);
    },
  };
}
