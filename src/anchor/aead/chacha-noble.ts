/**
 * ChaCha20-Poly1305 (RFC 8439) in pure JS through @noble/ciphers: for machines without AES-NI,
 * where table-based AES would be both slow and timing-leaky. A different cipher is a different
 * suite (Suite.ChaCha20Poly1305): it never interoperates with the AES-256-GCM backends, and a realm
 * fixes its suite (docs/anchor-transport.md, "Suites"). ~74 MB/s: a correctness fallback.
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
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

class ChaChaContext implements AeadContext {
  readonly #key = new Uint8Array(AEAD_KEY_SIZE);
  #live = true;

  constructor(key: Uint8Array) {
    this.#key.set(key);
  }

  seal(buf: Uint8Array, pos: number, aadLen: number, textLen: number, nonce: Uint8Array): number {
    if (!this.#live || nonce.length !== AEAD_NONCE_SIZE || !fitsSeal(buf, pos, aadLen, textLen)) return -1;
    const start = pos + aadLen;
    const aad = buf.subarray(pos, start);
    // noble encrypts in place when output and input start at the same byte.
    chacha20poly1305(this.#key, nonce, aad).encrypt(
      buf.subarray(start, start + textLen),
      buf.subarray(start, start + textLen + AEAD_TAG_SIZE),
    );
    return aadLen + textLen + AEAD_TAG_SIZE;
  }

  open(buf: Uint8Array, pos: number, aadLen: number, sealedLen: number, nonce: Uint8Array): number {
    if (!this.#live || nonce.length !== AEAD_NONCE_SIZE || !fitsOpen(buf, pos, aadLen, sealedLen)) return -1;
    const start = pos + aadLen;
    const textLen = sealedLen - aadLen - AEAD_TAG_SIZE;
    try {
      chacha20poly1305(this.#key, nonce, buf.subarray(pos, start)).decrypt(
        buf.subarray(start, start + textLen + AEAD_TAG_SIZE),
        buf.subarray(start, start + textLen),
      );
      return textLen;
    } catch {
      return -1;
    }
  }

  destroy(): void {
    this.#live = false;
    this.#key.fill(0);
  }
}

export function chachaNobleBackend(): AeadBackend {
  return {
    name: "chacha-noble",
    suite: Suite.ChaCha20Poly1305,
    create(key: Uint8Array): AeadContext {
      if (key.length !== AEAD_KEY_SIZE)
        throw new AeadError("AEAD_BAD_KEY", "ChaCha20-Poly1305 key must be 32 bytes");
      return new ChaChaContext(key);
    },
  };
}
