/**
 * Enrolment tokens. A token is 32 random bytes shown once as `vnt1_<base64url>`; the database keeps
 * only SHA-256 of the whole string, so a copy of the database cannot enrol anyone.
 */
import { randomBytes } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

/* Specification constants */
export const TOKEN_PREFIX = "vnt1_";
export const TOKEN_SECRET_SIZE = 32;
const TOKEN_PATTERN = /^vnt1_[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(TOKEN_SECRET_SIZE).toString("base64url");
}

/** Well-formed tokens only; anything else is refused before it touches the database. */
export function isTokenShaped(token: unknown): token is string {
  return typeof token === "string" && TOKEN_PATTERN.test(token);
}

export function hashToken(token: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(token)));
}

/** A short, non-secret handle for listings and the audit log. */
export function tokenHandle(hash: string): string {
  return hash.slice(0, 12);
}
