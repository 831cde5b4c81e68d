/**
 * Certificate verification: issuer, both signatures, realm, revocation, validity window, taints —
 * each failure its own typed error. ML-DSA-65 verification costs milliseconds, so certificates whose
 * signatures verified are kept in a bounded LRU cache keyed by certificate id (SHA-256 of the whole
 * encoding); the cheap checks (realm, revocation, time, taints) run on every call.
 */
import { sha256, toHex } from "./_bytes.ts";
import { CERTIFICATE_SIGNATURE_CONTEXT, type Certificate, decodeCertificate } from "./certificate.ts";
import {
  CertificateBadSignature,
  CertificateExpired,
  CertificateMissingTaint,
  CertificateNotYetValid,
  CertificateRevoked,
  CertificateUnknownIssuer,
  CertificateWrongRealm,
} from "./errors.ts";
import { verifyHybrid } from "./identity.ts";
import type { TrustedIssuers } from "./issuer.ts";
import type { RevocationSet } from "./revocation.ts";

/* Implementation constants */
export const DEFAULT_CERTIFICATE_CACHE_ENTRIES = 1024;

export interface VerifyOptions {
  /** Trusted Guardian realm keys by hex key id. */
  readonly realmKeys: TrustedIssuers;
  /** The realm the verifier belongs to. */
  readonly realm: string;
  /** Unix seconds. */
  readonly now: number;
  readonly revoked?: RevocationSet;
  /** Every one of these taints must be present. */
  readonly requiredTaints?: readonly string[];
  /** Defaults to a process-wide cache. */
  readonly cache?: CertificateCache;
}

/** A bounded LRU of certificates whose signatures verified. */
export class CertificateCache {
  readonly #entries = new Map<string, Certificate>();
  hits = 0;
  misses = 0;
  /** Number of full hybrid signature verifications performed (the expensive step). */
  signatureChecks = 0;
  constructor(readonly capacity = DEFAULT_CERTIFICATE_CACHE_ENTRIES) {}

  get(id: string): Certificate | undefined {
    const c = this.#entries.get(id);
    if (c === undefined) return undefined;
    this.#entries.delete(id);
    this.#entries.set(id, c);
    return c;
  }
  set(id: string, cert: Certificate): void {
    this.#entries.delete(id);
    this.#entries.set(id, cert);
    while (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
  clear(): void {
    this.#entries.clear();
  }
  get size(): number {
    return this.#entries.size;
  }
}

export const defaultCertificateCache = new CertificateCache();

/**
 * Verifies a certificate (decoded or raw bytes) and returns the decoded, verified certificate.
 * Throws CertificateMalformed, CertificateUnknownIssuer, CertificateBadSignature,
 * CertificateWrongRealm, CertificateRevoked, CertificateNotYetValid, CertificateExpired or
 * CertificateMissingTaint — checked in that order.
 */
export function verifyCertificate(input: Certificate | Uint8Array, opts: VerifyOptions): Certificate {
  const cache = opts.cache ?? defaultCertificateCache;
  const id = toHex(input instanceof Uint8Array ? sha256(input) : input.id);
  let cert = cache.get(id);
  if (cert !== undefined) {
    cache.hits++;
    // The cached entry was verified under a key that must still be trusted.
    if (!opts.realmKeys.has(toHex(cert.issuerKeyId))) throw unknownIssuer();
  } else {
    cache.misses++;
    cert = input instanceof Uint8Array ? decodeCertificate(input) : input;
    const key = opts.realmKeys.get(toHex(cert.issuerKeyId));
    if (key === undefined) throw unknownIssuer();
    cache.signatureChecks++;
    const body = cert.bytes.subarray(0, cert.signedLength);
    if (
      !verifyHybrid(cert.signature, body, CERTIFICATE_SIGNATURE_CONTEXT, key.ed25519Public, key.mldsa65Public)
    ) {
      throw new CertificateBadSignature("CERT_BAD_SIGNATURE", "certificate signature does not verify");
    }
    cache.set(id, cert);
  }
  checkPolicy(cert, opts);
  return cert;
}

/** The cheap checks, for a certificate whose signature is already known to be good. */
export function checkPolicy(cert: Certificate, opts: Omit<VerifyOptions, "realmKeys" | "cache">): void {
  if (cert.realm !== opts.realm) {
    throw new CertificateWrongRealm("CERT_WRONG_REALM", `certificate is for realm ${cert.realm}`);
  }
  if (opts.revoked?.isRevoked(cert, opts.now)) {
    throw new CertificateRevoked("CERT_REVOKED", "certificate or node is revoked");
  }
  if (opts.now < cert.notBefore)
    throw new CertificateNotYetValid("CERT_NOT_YET_VALID", "certificate not yet valid");
  if (opts.now > cert.notAfter) throw new CertificateExpired("CERT_EXPIRED", "certificate expired");
  for (const t of opts.requiredTaints ?? []) {
    if (!cert.taints.includes(t))
      throw new CertificateMissingTaint("CERT_MISSING_TAINT", `missing taint ${t}`);
  }
}

function unknownIssuer(): CertificateUnknownIssuer {
  return new CertificateUnknownIssuer("CERT_UNKNOWN_ISSUER", "certificate issuer is not trusted");
}
