/**
 * AES-256-GCM through OpenSSL 3's EVP interface via bun:ffi: the fast backend.
 *
 * One EVP_CIPHER_CTX per key and direction, keyed once; per packet only the IV is re-initialised
 * (EVP_CipherInit_ex with cipher and key NULL), then AAD update, in-place text update, final and the
 * tag control — five FFI calls of ~2 ns each, the rest is OpenSSL's own work.
 *
 * Trap (research/dataplane.md): `ptr()` of a small typed array can go stale because JSC keeps small
 * arrays inline and moves them later; a cached pointer then makes native code read old memory (in a
 * prototype this silently reused nonces). Every buffer whose pointer we keep is therefore allocated
 * as `new Uint8Array(new ArrayBuffer(n))`, and pointers into caller buffers are taken per call.
 */
import { dlopen, FFIType, type Library, type Pointer, ptr } from "bun:ffi";
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

/* OpenSSL constants (include/openssl/evp.h) */
const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;
const ENC_UNCHANGED = -1;
const ENC_ENCRYPT = 1;
const ENC_DECRYPT = 0;

const LIBRARY_NAMES = ["libcrypto.so.3", "libcrypto.so", "libcrypto.3.dylib", "libcrypto.dylib"];

const SYMBOLS = {
  EVP_aes_256_gcm: { args: [], returns: FFIType.ptr },
  EVP_CIPHER_CTX_new: { args: [], returns: FFIType.ptr },
  EVP_CIPHER_CTX_free: { args: [FFIType.ptr], returns: FFIType.void },
  EVP_CipherInit_ex: {
    args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32],
    returns: FFIType.i32,
  },
  EVP_CipherUpdate: {
    args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32],
    returns: FFIType.i32,
  },
  EVP_CipherFinal_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  EVP_CIPHER_CTX_ctrl: { args: [FFIType.ptr, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
} as const;

type Lib = Library<typeof SYMBOLS>["symbols"];

let loaded: { lib: Lib; cipher: Pointer } | null | undefined;

function load(): { lib: Lib; cipher: Pointer } | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  for (const name of LIBRARY_NAMES) {
    try {
      const { symbols } = dlopen(name, SYMBOLS);
      const cipher = symbols.EVP_aes_256_gcm() as Pointer | null;
      if (cipher) {
        loaded = { lib: symbols, cipher };
        break;
      }
    } catch {
      // try the next name
    }
  }
  return loaded;
}

/** True when libcrypto could be loaded and offers AES-256-GCM. */
export function opensslAvailable(): boolean {
  return load() !== null;
}

/** Frees the native contexts of a context that was garbage-collected without destroy(). */
const finalizer = new FinalizationRegistry<{ lib: Lib; ctxs: (Pointer | null)[] }>((held) => {
  for (const c of held.ctxs) if (c) held.lib.EVP_CIPHER_CTX_free(c);
});

class OpenSslContext implements AeadContext {
  readonly #lib: Lib;
  // Long-lived FFI buffers: ArrayBuffer-backed, so their pointers never move.
  readonly #iv = new Uint8Array(new ArrayBuffer(AEAD_NONCE_SIZE));
  readonly #outl = new Uint8Array(new ArrayBuffer(4));
  readonly #ivPtr: Pointer;
  readonly #outlPtr: Pointer;
  readonly #held: { lib: Lib; ctxs: (Pointer | null)[] };
  #enc: Pointer | null;
  #dec: Pointer | null;
  #destroyed = false;

  constructor(lib: Lib, cipher: Pointer, key: Uint8Array) {
    this.#lib = lib;
    this.#ivPtr = ptr(this.#iv);
    this.#outlPtr = ptr(this.#outl);
    // Both directions are keyed now, so the key copy lives only for the length of this constructor.
    const keyCopy = new Uint8Array(new ArrayBuffer(AEAD_KEY_SIZE));
    keyCopy.set(key);
    this.#enc = make(lib, cipher, keyCopy, ENC_ENCRYPT);
    this.#dec = make(lib, cipher, keyCopy, ENC_DECRYPT);
    keyCopy.fill(0);
    this.#held = { lib, ctxs: [this.#enc, this.#dec] };
    if (this.#enc === null || this.#dec === null) {
      this.destroy();
      throw new AeadError("AEAD_OPENSSL_INIT", "EVP_CipherInit_ex failed for AES-256-GCM");
    }
    finalizer.register(this, this.#held, this);
  }

  seal(buf: Uint8Array, pos: number, aadLen: number, textLen: number, nonce: Uint8Array): number {
    if (this.#destroyed || nonce.length !== AEAD_NONCE_SIZE || !fitsSeal(buf, pos, aadLen, textLen))
      return -1;
    const ctx = this.#enc;
    if (ctx === null) return -1;
    const lib = this.#lib;
    const outl = this.#outlPtr;
    this.#iv.set(nonce);
    const base = ptr(buf, pos);
    if (lib.EVP_CipherInit_ex(ctx, null, null, null, this.#ivPtr, ENC_UNCHANGED) !== 1) return -1;
    if (aadLen > 0 && lib.EVP_CipherUpdate(ctx, null, outl, base, aadLen) !== 1) return -1;
    const text = (base + aadLen) as Pointer;
    if (textLen > 0 && lib.EVP_CipherUpdate(ctx, text, outl, text, textLen) !== 1) return -1;
    const tag = (text + textLen) as Pointer;
    if (lib.EVP_CipherFinal_ex(ctx, tag, outl) !== 1) return -1;
    if (lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_SIZE, tag) !== 1) return -1;
    return aadLen + textLen + AEAD_TAG_SIZE;
  }

  open(buf: Uint8Array, pos: number, aadLen: number, sealedLen: number, nonce: Uint8Array): number {
    if (this.#destroyed || nonce.length !== AEAD_NONCE_SIZE || !fitsOpen(buf, pos, aadLen, sealedLen))
      return -1;
    const ctx = this.#dec;
    if (ctx === null) return -1;
    const lib = this.#lib;
    const outl = this.#outlPtr;
    const textLen = sealedLen - aadLen - AEAD_TAG_SIZE;
    this.#iv.set(nonce);
    const base = ptr(buf, pos);
    if (lib.EVP_CipherInit_ex(ctx, null, null, null, this.#ivPtr, ENC_UNCHANGED) !== 1) return -1;
    if (aadLen > 0 && lib.EVP_CipherUpdate(ctx, null, outl, base, aadLen) !== 1) return -1;
    const text = (base + aadLen) as Pointer;
    if (textLen > 0 && lib.EVP_CipherUpdate(ctx, text, outl, text, textLen) !== 1) return -1;
    const tag = (text + textLen) as Pointer;
    if (lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_SIZE, tag) !== 1) return -1;
    return lib.EVP_CipherFinal_ex(ctx, tag, outl) === 1 ? textLen : -1;
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    finalizer.unregister(this);
    if (this.#enc) this.#lib.EVP_CIPHER_CTX_free(this.#enc);
    if (this.#dec) this.#lib.EVP_CIPHER_CTX_free(this.#dec);
    this.#enc = null;
    this.#dec = null;
    this.#held.ctxs[0] = null;
    this.#held.ctxs[1] = null;
  }
}

function make(lib: Lib, cipher: Pointer, key: Uint8Array, enc: number): Pointer | null {
  const ctx = lib.EVP_CIPHER_CTX_new() as Pointer | null;
  if (!ctx) return null;
  if (lib.EVP_CipherInit_ex(ctx, cipher, null, ptr(key), null, enc) !== 1) {
    lib.EVP_CIPHER_CTX_free(ctx);
    return null;
  }
  return ctx;
}

/** The OpenSSL backend. Throws AeadError AEAD_OPENSSL_UNAVAILABLE when libcrypto cannot be loaded. */
export function opensslBackend(): AeadBackend {
  const l = load();
  if (l === null) {
    throw new AeadError(
      "AEAD_OPENSSL_UNAVAILABLE",
      "libcrypto (OpenSSL 3) with AES-256-GCM is not available",
    );
  }
  return {
    name: "openssl",
    suite: Suite.Aes256Gcm,
    create(key: Uint8Array): AeadContext {
      if (key.length !== AEAD_KEY_SIZE)
        throw new AeadError("AEAD_BAD_KEY", "AES-256-GCM key must be 32 bytes");
      return new OpenSslContext(l.lib, l.cipher, key);
    },
  };
}
