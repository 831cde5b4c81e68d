/**
 * mac1 / mac2 and cookie replies: WireGuard's denial-of-service defence, per fragment.
 *
 * Every handshake fragment ends in mac1 || mac2:
 *   mac1 = HMAC-SHA-256(SHA-256(MAC1_LABEL || receiver X25519 || receiver ML-KEM), fragment[..mac1])[0..16]
 *   mac2 = HMAC-SHA-256(cookie, fragment[..mac2])[0..16], or 16 zero bytes without a cookie
 * mac1 proves the sender knows the receiver's certified static keys; it is checked before anything
 * else. Under load the responder also requires a valid mac2; a fragment 0 without one is answered
 * with a cookie reply and costs no reassembly memory and no KEM work.
 *
 *   cookie = HMAC-SHA-256(secret, source address)[0..16], secret rotated every COOKIE_SECRET_LIFETIME_MS
 *
 *   cookie reply (64 bytes)
 *    0        1        2        4                    8
 *   | type=3 |version | reserved=0 | handshake id u32 LE |
 *   |                  nonce (24)                       |
 *   |   XChaCha20-Poly1305(cookieKey, nonce, cookie, ad = mac1 of the fragment answered) (32) |
 *   cookieKey = SHA-256(COOKIE_LABEL || responder X25519 || responder ML-KEM)
 */
import { createHmac } from "node:crypto";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { equalBytes, isAllZero, sha256, utf8 } from "./_bytes.ts";
import { CookieMalformed } from "./errors.ts";
import { FRAGMENT_TRAILER_SIZE, HANDSHAKE_VERSION, MAC_SIZE, OFF_HANDSHAKE_ID } from "./fragment.ts";
import type { PublicKeys } from "./identity.ts";
import { MsgType } from "./message-type.ts";
import type { Rng } from "./rng.ts";

/* Specification constants */
export const MAC1_LABEL = "mac1----veilnet anchor v1";
export const COOKIE_LABEL = "cookie--veilnet anchor v1";
export const COOKIE_SIZE = 16;
export const COOKIE_NONCE_SIZE = 24;
export const COOKIE_REPLY_SIZE = 8 + COOKIE_NONCE_SIZE + COOKIE_SIZE + 16; // 64
export const COOKIE_SECRET_LIFETIME_MS = 120_000;
/** The initiator uses a cookie for a little less than the responder keeps accepting it. */
export const COOKIE_USE_LIFETIME_MS = COOKIE_SECRET_LIFETIME_MS - 5_000;

type KemPublic = Pick<PublicKeys, "x25519" | "mlkem768">;

export function mac1Key(receiver: KemPublic): Uint8Array {
  return labelled(MAC1_LABEL, receiver);
}
export function cookieKey(responder: KemPublic): Uint8Array {
  return labelled(COOKIE_LABEL, responder);
}

/** Writes mac1 into the fragment's trailer (mac2 must be written afterwards). */
export function writeMac1(key: Uint8Array, d: Uint8Array): void {
  d.set(mac(key, d.subarray(0, d.length - FRAGMENT_TRAILER_SIZE)), d.length - FRAGMENT_TRAILER_SIZE);
}
/** Writes mac2 (or zeros when there is no cookie). */
export function writeMac2(cookie: Uint8Array | undefined, d: Uint8Array): void {
  const at = d.length - MAC_SIZE;
  if (cookie === undefined) d.fill(0, at);
  else d.set(mac(cookie, d.subarray(0, at)), at);
}
export function checkMac1(key: Uint8Array, d: Uint8Array): boolean {
  const at = d.length - FRAGMENT_TRAILER_SIZE;
  return equalBytes(mac(key, d.subarray(0, at)), d.subarray(at, at + MAC_SIZE));
}
export function mac1Of(d: Uint8Array): Uint8Array {
  const at = d.length - FRAGMENT_TRAILER_SIZE;
  return d.subarray(at, at + MAC_SIZE);
}
export function mac2IsZero(d: Uint8Array): boolean {
  return isAllZero(d.subarray(d.length - MAC_SIZE));
}

/** Responder side: the rotating secret, mac2 checks and cookie replies. */
export class CookieChecker {
  #current: Uint8Array;
  #previous: Uint8Array | undefined;
  #born: number;
  readonly #sealKey: Uint8Array;

  constructor(
    responder: KemPublic,
    readonly rng: Rng,
    now: number,
  ) {
    this.#sealKey = cookieKey(responder);
    this.#current = rng(32);
    this.#born = now;
  }

  /** True if mac2 is valid for `source` under the current or the previous secret. */
  validMac2(d: Uint8Array, source: string, now: number): boolean {
    this.#rotate(now);
    const at = d.length - MAC_SIZE;
    const got = d.subarray(at);
    const body = d.subarray(0, at);
    if (equalBytes(mac(this.#cookie(this.#current, source), body), got)) return true;
    return this.#previous !== undefined && equalBytes(mac(this.#cookie(this.#previous, source), body), got);
  }

  /** A cookie reply answering fragment `d` (its handshake id and mac1) from `source`. */
  makeReply(d: Uint8Array, source: string, now: number): Uint8Array {
    this.#rotate(now);
    const out = new Uint8Array(COOKIE_REPLY_SIZE);
    out[0] = MsgType.CookieReply;
    out[1] = HANDSHAKE_VERSION;
    out.set(d.subarray(OFF_HANDSHAKE_ID, OFF_HANDSHAKE_ID + 4), OFF_HANDSHAKE_ID);
    const nonce = this.rng(COOKIE_NONCE_SIZE);
    out.set(nonce, 8);
    const sealed = xchacha20poly1305(this.#sealKey, nonce, mac1Of(d)).encrypt(
      this.#cookie(this.#current, source),
    );
    out.set(sealed, 8 + COOKIE_NONCE_SIZE);
    return out;
  }

  #cookie(secret: Uint8Array, source: string): Uint8Array {
    return mac(secret, utf8.encode(source));
  }

  #rotate(now: number): void {
    if (now - this.#born < COOKIE_SECRET_LIFETIME_MS) return;
    this.#previous = now - this.#born < 2 * COOKIE_SECRET_LIFETIME_MS ? this.#current : undefined;
    this.#current = this.rng(32);
    this.#born = now;
  }
}

export interface CookieReply {
  readonly handshakeId: number;
  readonly nonce: Uint8Array;
  readonly sealed: Uint8Array;
}

/** Parses a cookie reply's framing. Throws only CookieMalformed. */
export function parseCookieReply(d: Uint8Array): CookieReply {
  if (d.length !== COOKIE_REPLY_SIZE) throw bad("SIZE", "cookie reply must be 64 bytes");
  if (d[0] !== MsgType.CookieReply) throw bad("TYPE", "not a cookie reply");
  if (d[1] !== HANDSHAKE_VERSION || d[2] !== 0 || d[3] !== 0)
    throw bad("VERSION", "bad version or reserved bytes");
  return {
    handshakeId: new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(OFF_HANDSHAKE_ID, true),
    nonce: d.subarray(8, 8 + COOKIE_NONCE_SIZE),
    sealed: d.subarray(8 + COOKIE_NONCE_SIZE),
  };
}

/** Decrypts the cookie with the responder's cookie key and the mac1 we sent. Throws CookieMalformed. */
export function openCookieReply(reply: CookieReply, key: Uint8Array, sentMac1: Uint8Array): Uint8Array {
  try {
    return xchacha20poly1305(key, reply.nonce, sentMac1).decrypt(reply.sealed);
  } catch {
    throw bad("DECRYPT", "cookie reply does not decrypt");
  }
}

function mac(key: Uint8Array, data: Uint8Array): Uint8Array {
  const h = createHmac("sha256", key).update(data).digest();
  return new Uint8Array(h.buffer, h.byteOffset, MAC_SIZE);
}

function labelled(label: string, k: KemPublic): Uint8Array {
  return sha256(utf8.encode(label), k.x25519, k.mlkem768);
}

function bad(code: string, message: string): CookieMalformed {
  return new CookieMalformed(`COOKIE_${code}`, message);
}
