/**
 * Picks the AEAD backend for a realm's suite, once per process.
 *
 *   AES-256-GCM        → OpenSSL EVP via bun:ffi, else node:crypto (same bytes, slower)
 *   ChaCha20-Poly1305  → @noble/ciphers (pure JS)
 *
 * The suite itself is not chosen here: it is fixed per realm (docs/anchor-transport.md, "Suites").
 * `recommendedSuite()` tells a realm administrator what this machine would prefer.
 */
import { readFileSync } from "node:fs";
import { type AeadBackend, Suite } from "./aead.ts";
import { chachaNobleBackend } from "./chacha-noble.ts";
import { AeadError } from "./errors.ts";
import { nodeCryptoBackend } from "./node-crypto.ts";
import { opensslAvailable, opensslBackend } from "./openssl.ts";

export type BackendName = "openssl" | "node-crypto" | "chacha-noble";

/** Every backend that can run here, fastest first. */
export function availableBackends(): AeadBackend[] {
  const out: AeadBackend[] = [];
  if (opensslAvailable()) out.push(opensslBackend());
  out.push(nodeCryptoBackend(), chachaNobleBackend());
  return out;
}

/** The fastest backend for `suite`, or the named one (throws AeadError if it cannot run or mismatches). */
export function chooseAead(suite: Suite = Suite.Aes256Gcm, prefer?: BackendName): AeadBackend {
  if (prefer !== undefined) {
    const b =
      prefer === "openssl"
        ? opensslBackend()
        : prefer === "node-crypto"
          ? nodeCryptoBackend()
          : chachaNobleBackend();
    if (b.suite !== suite)
      throw new AeadError("AEAD_SUITE_MISMATCH", `backend ${prefer} does not implement suite ${suite}`);
    return b;
  }
  if (suite === Suite.ChaCha20Poly1305) return chachaNobleBackend();
  if (suite === Suite.Aes256Gcm) return opensslAvailable() ? opensslBackend() : nodeCryptoBackend();
  throw new AeadError("AEAD_UNKNOWN_SUITE", `unknown suite ${String(suite)}`);
}

/** True when the CPU advertises hardware AES (x86 `aes` flag, arm64 `aes` feature). */
export function hasHardwareAes(cpuinfo?: string): boolean {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return true; // not Linux: assume a modern CPU; OpenSSL still picks the best code path itself
    }
  }
  return /^(flags|Features)\s*:.*\baes\b/m.test(text);
}

/** AES-256-GCM with hardware AES, else ChaCha20-Poly1305. Advice for a realm's setting, not a negotiation. */
export function recommendedSuite(cpuinfo?: string): Suite {
  return hasHardwareAes(cpuinfo) ? Suite.Aes256Gcm : Suite.ChaCha20Poly1305;
}
