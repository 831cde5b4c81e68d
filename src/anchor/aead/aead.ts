/**
 * The AEAD backend interface: one contract, three implementations (OpenSSL EVP through bun:ffi,
 * node:crypto, pure-JS ChaCha20-Poly1305), chosen once per process by `choose.ts`.
 *
 * Every operation works IN PLACE on a caller-owned buffer laid out as
 *
 *   pos          pos+aadLen                      pos+aadLen+textLen      +16
 *    | AAD (clear) | plaintext ⇄ ciphertext          | tag                   |
 *
 * so the data plane can read a packet straight into `slot + header`, seal it where it lies, and
 * hand the same bytes to the socket. No method allocates per call on the fast backend, and none
 * throws on hostile input: `open` returns -1 and leaves the caller to count the drop.
 */

/* Specification constants */
export const AEAD_KEY_SIZE = 32;
export const AEAD_NONCE_SIZE = 12;
export const AEAD_TAG_SIZE = 16;

/**
 * The cipher suite of a realm's transport. The wire header carries no suite field: a realm fixes
 * one suite (see docs/anchor-transport.md, "Suites"), and both ends of a session must agree.
 */
export const Suite = {
  Aes256Gcm: 1,
  ChaCha20Poly1305: 2,
} as const;
export type Suite = (typeof Suite)[keyof typeof Suite];

export const SUITE_NAMES: Readonly<Record<Suite, string>> = Object.freeze({
  [Suite.Aes256Gcm]: "aes-256-gcm",
  [Suite.ChaCha20Poly1305]: "chacha20-poly1305",
});

/** One key, long-lived: create it when a keypair is installed, destroy it when the keypair retires. */
export interface AeadContext {
  /**
   * Encrypts `buf[pos+aadLen, pos+aadLen+textLen)` in place and writes the 16-byte tag right after
   * it; `buf[pos, pos+aadLen)` is authenticated, not encrypted. `nonce` is 12 bytes and borrowed for
   * the duration of the call. Returns the sealed length `aadLen + textLen + 16`, or -1 if the
   * buffer is too small (nothing is written then).
   */
  seal(buf: Uint8Array, pos: number, aadLen: number, textLen: number, nonce: Uint8Array): number;
  /**
   * Checks and decrypts `buf[pos, pos+sealedLen)` (AAD, ciphertext, tag) in place. Returns the
   * plaintext length (`sealedLen - aadLen - 16`), or -1 when the message is too short or fails
   * authentication; the ciphertext bytes are then unspecified and must be discarded.
   */
  open(buf: Uint8Array, pos: number, aadLen: number, sealedLen: number, nonce: Uint8Array): number;
  /** Releases native state and wipes key copies. Idempotent; a destroyed context fails every call. */
  destroy(): void;
}

export interface AeadBackend {
  /** "openssl", "node-crypto" or "chacha-noble". */
  readonly name: string;
  readonly suite: Suite;
  /** `key` is copied; the caller may wipe its own copy afterwards. */
  create(key: Uint8Array): AeadContext;
}

/** Bounds check shared by the backends (never throws). */
export function fitsSeal(buf: Uint8Array, pos: number, aadLen: number, textLen: number): boolean {
  return pos >= 0 && aadLen >= 0 && textLen >= 0 && pos + aadLen + textLen + AEAD_TAG_SIZE <= buf.length;
}

/** Bounds check shared by the backends (never throws). */
export function fitsOpen(buf: Uint8Array, pos: number, aadLen: number, sealedLen: number): boolean {
  return pos >= 0 && aadLen >= 0 && sealedLen >= aadLen + AEAD_TAG_SIZE && pos + sealedLen <= buf.length;
}
