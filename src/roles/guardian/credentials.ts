/**
 * Issues a node's three short-lived credentials, all for keys the node generated itself:
 * the Anchor certificate (hybrid-signed by the Guardian), a NATS user JWT (signed by the realm's
 * account key, permissions limited to the node's subjects) and an mTLS client certificate
 * (ECDSA P-256, signed by the control CA). The earliest expiry is the credentials' expiry.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { issueCertificate } from "../../anchor/certificate.ts";
import type { PublicKeys } from "../../anchor/identity.ts";
import { nodePermissions } from "../../control/index.ts";
import { b64u } from "../../guardian-api/signed-json.ts";
import type { Credentials } from "../../guardian-api/wire.ts";
import { mintUserJwt } from "../../pki/index.ts";
import type { Authority } from "./authority.ts";
import { ipv4String } from "./ipv4.ts";

/* Implementation constants */
export const DEFAULT_CREDENTIAL_TTL_MS = 60 * 60_000;
/** Certificates start a little in the past to absorb clock skew between hosts. */
export const NOT_BEFORE_SKEW_S = 60;
/** A taint the Guardian adds to the Anchor certificate of a quarantined node. */
export const QUARANTINE_TAINT = "quarantined";

export interface IssuePolicy {
  /** Lifetime of all three credentials. */
  readonly ttlMs: number;
  /** NATS server URLs handed to nodes. */
  readonly masters: readonly string[];
}

export interface IssueInput {
  readonly nodeId: string;
  readonly realm: string;
  readonly publicKeys: PublicKeys;
  readonly ipv4: number;
  readonly ipv6: string;
  readonly taints: readonly string[];
  readonly natsPublicKey: string;
  readonly tlsPublicKey: string;
  readonly now: number;
}

export async function issueCredentials(
  a: Authority,
  policy: IssuePolicy,
  input: IssueInput,
): Promise<Credentials> {
  const ttlSeconds = Math.max(1, Math.round(policy.ttlMs / 1000));
  const nowS = Math.floor(input.now / 1000);
  const ipv4 = ipv4String(input.ipv4);
  const cert = issueCertificate(a.identity, {
    publicKeys: input.publicKeys,
    realm: input.realm,
    ipv4,
    taints: input.taints,
    notBefore: nowS - NOT_BEFORE_SKEW_S,
    notAfter: nowS + ttlSeconds,
  });
  const natsJwt = await mintUserJwt({
    name: `node-${input.nodeId.slice(0, 16)}`,
    user: input.natsPublicKey,
    account: a.realmKey(input.realm),
    permissions: nodePermissions(input.nodeId),
    // nats-server admits a user JWT through the whole second its `exp` names (it compares whole
    // seconds), so the JWT names the second before expiresAt: no connection is admitted after it.
    ttlSeconds: Math.max(1, ttlSeconds - 1),
    nowSeconds: nowS,
  });
  const tls = await a.trust.ca.issueClient({
    commonName: `node-${input.nodeId.slice(0, 16)}`,
    uris: [`veilnet:node:${input.nodeId}`, `veilnet:realm:${input.realm}`],
    validSeconds: ttlSeconds,
    publicKeyPem: input.tlsPublicKey,
  });
  const expiresAt = Math.min(cert.notAfter * 1000, (nowS + ttlSeconds) * 1000, tls.notAfter.getTime());
  return {
    nodeId: input.nodeId,
    realm: input.realm,
    ipv4,
    ipv6: input.ipv6,
    taints: [...cert.taints],
    anchorCertificate: b64u(cert.bytes),
    natsJwt,
    tlsCertificate: tls.certPem,
    caBundle: a.trust.ca.certPem,
    masters: [...policy.masters],
    guardian: a.identity.publicKeys,
    issuedAt: input.now,
    expiresAt,
  };
}

export function hexId(bytes: Uint8Array): string {
  return bytesToHex(bytes);
}
