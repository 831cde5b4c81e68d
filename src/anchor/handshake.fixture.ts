/**
 * Shared test fixture (not a test file): a Guardian realm key, two nodes with certificates, and
 * helpers to run a handshake in memory. Deterministic keys from fixed seeds.
 */
import { type Certificate, type CertificateRequest, issueCertificate } from "./certificate.ts";
import { CertificateCache } from "./certificate-verify.ts";
import { HandshakeInitiator } from "./handshake-initiator.ts";
import { HandshakeResponder } from "./handshake-responder.ts";
import {
  type HandshakeLocal,
  type HandshakeOutput,
  type PeerPolicy,
  TimestampSource,
} from "./handshake-types.ts";
import { Identity } from "./identity.ts";
import { trustedIssuers } from "./issuer.ts";
import { RevocationSet } from "./revocation.ts";
import { seededRng } from "./rng.ts";

export const REALM = "acme-prod";
export const NOW_MS = 1_767_225_600_000; // 2026-01-01T00:00:00Z
export const NOW_S = NOW_MS / 1000;
export const SOURCE = "198.18.0.1:7000";

export const guardian = Identity.generate(seededRng("fixture guardian"));
export const alice = Identity.generate(seededRng("fixture alice"));
export const bob = Identity.generate(seededRng("fixture bob"));

export function issue(
  identity: Identity,
  overrides: Partial<CertificateRequest> = {},
  issuer = guardian,
): Certificate {
  return issueCertificate(
    issuer,
    {
      publicKeys: identity.publicKeys,
      realm: REALM,
      ipv4: "100.64.0.10",
      taints: ["web"],
      notBefore: NOW_S - 60,
      notAfter: NOW_S + 3600,
      ...overrides,
    },
    new Uint8Array(32),
  );
}

export const aliceCert = issue(alice, { ipv4: "100.64.0.1" });
export const bobCert = issue(bob, { ipv4: "100.64.0.2" });

export function policy(extra: Partial<PeerPolicy> = {}): PeerPolicy {
  return {
    realmKeys: trustedIssuers(guardian),
    realm: REALM,
    revoked: new RevocationSet(),
    cache: new CertificateCache(),
    ...extra,
  };
}

export function local(
  identity: Identity,
  certificate: Certificate,
  extra: Partial<HandshakeLocal> = {},
): HandshakeLocal {
  return { identity, certificate, trust: policy(), timestamps: new TimestampSource(), ...extra };
}

/** Feeds datagrams one by one; returns the last output. */
export function deliver(datagrams: Uint8Array[], to: (d: Uint8Array) => HandshakeOutput): HandshakeOutput {
  let out: HandshakeOutput = { kind: "pending" };
  for (const d of datagrams) out = to(d);
  return out;
}

export function pair(extraA: Partial<HandshakeLocal> = {}, extraB: Partial<HandshakeLocal> = {}) {
  const initiator = new HandshakeInitiator(local(alice, aliceCert, extraA), bobCert.bytes, NOW_MS);
  const responder = new HandshakeResponder(local(bob, bobCert, extraB), NOW_MS);
  return { initiator, responder };
}

export function datagramsOf(o: HandshakeOutput): Uint8Array[] {
  if (o.kind !== "send" && o.kind !== "established") throw new Error(`expected datagrams, got ${o.kind}`);
  return o.datagrams;
}
