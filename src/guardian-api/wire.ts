/**
 * The Guardian HTTPS API, version 1. Every request body and the revocation list are SignedJson
 * (signed-json.ts); the other answers are plain JSON. Refusals are `{ error: { code, message } }`
 * with a 4xx status and write nothing on the Guardian.
 *
 *   POST /v1/enrol        SignedJson<EnrolRequest>, signed by the node's hybrid identity → Credentials
 *   POST /v1/renew        SignedJson<RenewRequest>, signed by the node's hybrid identity → Credentials
 *   GET  /v1/revocations  [?realm=R] → SignedJson<RevocationList>, signed by the Guardian
 *   GET  /v1/health       → Health
 */
import type { PublicKeys } from "../anchor/identity.ts";
import {
  ED25519_PUBLIC_SIZE,
  MLDSA65_PUBLIC_SIZE,
  MLKEM768_PUBLIC_SIZE,
  X25519_PUBLIC_SIZE,
} from "../anchor/identity.ts";
import { GuardianApiError } from "./errors.ts";
import { b64u, fromB64u } from "./signed-json.ts";

/* Specification constants */
export const API_VERSION = 1;
export const ENROL_CONTEXT = "veilnet guardian enrol v1";
export const RENEW_CONTEXT = "veilnet guardian renew v1";
export const REVOCATIONS_CONTEXT = "veilnet guardian revocations v1";
export const PATH_ENROL = "/v1/enrol";
export const PATH_RENEW = "/v1/renew";
export const PATH_REVOCATIONS = "/v1/revocations";
export const PATH_HEALTH = "/v1/health";
/** A signed request older or newer than this (by its issuedAt) is refused. */
export const REQUEST_MAX_SKEW_MS = 5 * 60_000;

export interface EnrolRequest {
  readonly v: 1;
  readonly type: "enrol";
  readonly token: string;
  readonly realm: string;
  readonly publicKeys: PublicKeys;
  /** The node's NATS user nkey ("U…"); its seed never leaves the node. */
  readonly natsPublicKey: string;
  /** The node's ECDSA P-256 public key for mTLS, SPKI PEM; its private key never leaves the node. */
  readonly tlsPublicKey: string;
  readonly issuedAt: number;
}

export interface RenewRequest {
  readonly v: 1;
  readonly type: "renew";
  readonly nodeId: string;
  readonly natsPublicKey: string;
  readonly tlsPublicKey: string;
  readonly issuedAt: number;
}

/** Everything a node needs to join: three short-lived credentials and where to use them. */
export interface Credentials {
  readonly nodeId: string;
  readonly realm: string;
  readonly ipv4: string;
  readonly ipv6: string;
  readonly taints: readonly string[];
  /** The Anchor certificate (src/anchor/certificate.ts encoding), base64url. */
  readonly anchorCertificate: string;
  /** NATS user JWT for `natsPublicKey`, limited to this node's subjects. */
  readonly natsJwt: string;
  /** mTLS client certificate (PEM) for `tlsPublicKey`. */
  readonly tlsCertificate: string;
  /** The control-plane CA (PEM): trust anchor for NATS servers and the Guardian API. */
  readonly caBundle: string;
  /** NATS server URLs of the Master super cluster. */
  readonly masters: readonly string[];
  /**
   * The Guardian's public keys: it signs certificates, admin commands and revocation lists, and
   * admin answers are sealed to it. Add them to the node's control KeyDirectory.
   */
  readonly guardian: PublicKeys;
  readonly issuedAt: number;
  /** The earliest expiry of the three credentials (ms since epoch). */
  readonly expiresAt: number;
}

export interface RevokedNode {
  readonly nodeId: string;
  readonly realm: string;
  readonly at: number;
  readonly reason: string;
}

export interface RevocationList {
  readonly v: 1;
  readonly type: "revocations";
  readonly issuedAt: number;
  readonly realm: string | null;
  readonly revoked: readonly RevokedNode[];
}

export interface Health {
  readonly ok: boolean;
  readonly version: string;
  readonly realms: number;
  readonly nodes: number;
}

export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/* Encoding of public keys inside JSON */
export function encodePublicKeys(k: PublicKeys): Record<keyof PublicKeys, string> {
  return {
    ed25519: b64u(k.ed25519),
    mldsa65: b64u(k.mldsa65),
    x25519: b64u(k.x25519),
    mlkem768: b64u(k.mlkem768),
  };
}

/** Credentials as JSON (public keys as base64url). */
export function credentialsJson(c: Credentials): Record<string, unknown> {
  return { ...c, guardian: encodePublicKeys(c.guardian) };
}

/* Parsers: every field is checked; nothing from the network is trusted by shape alone. */
export function parseEnrolRequest(value: unknown): EnrolRequest {
  const o = object(value);
  if (o.v !== API_VERSION || o.type !== "enrol") throw bad("not an enrol request of version 1");
  return {
    v: 1,
    type: "enrol",
    token: str(o.token, "token", 128),
    realm: str(o.realm, "realm", 64),
    publicKeys: parsePublicKeys(o.publicKeys),
    natsPublicKey: natsUser(o.natsPublicKey),
    tlsPublicKey: pem(o.tlsPublicKey),
    issuedAt: time(o.issuedAt),
  };
}

export function parseRenewRequest(value: unknown): RenewRequest {
  const o = object(value);
  if (o.v !== API_VERSION || o.type !== "renew") throw bad("not a renew request of version 1");
  const nodeId = str(o.nodeId, "nodeId", 64);
  if (!/^[0-9a-f]{64}$/.test(nodeId)) throw bad("nodeId must be 64 lowercase hex digits");
  return {
    v: 1,
    type: "renew",
    nodeId,
    natsPublicKey: natsUser(o.natsPublicKey),
    tlsPublicKey: pem(o.tlsPublicKey),
    issuedAt: time(o.issuedAt),
  };
}

export function parsePublicKeys(value: unknown): PublicKeys {
  const o = object(value);
  return {
    ed25519: key(o.ed25519, "ed25519", ED25519_PUBLIC_SIZE),
    mldsa65: key(o.mldsa65, "mldsa65", MLDSA65_PUBLIC_SIZE),
    x25519: key(o.x25519, "x25519", X25519_PUBLIC_SIZE),
    mlkem768: key(o.mlkem768, "mlkem768", MLKEM768_PUBLIC_SIZE),
  };
}

export function parseCredentials(value: unknown): Credentials {
  const o = object(value);
  const masters = Array.isArray(o.masters) ? o.masters.map((m) => str(m, "masters[]", 512)) : [];
  const taints = Array.isArray(o.taints) ? o.taints.map((t) => str(t, "taints[]", 64)) : [];
  return {
    nodeId: str(o.nodeId, "nodeId", 64),
    realm: str(o.realm, "realm", 64),
    ipv4: str(o.ipv4, "ipv4", 15),
    ipv6: str(o.ipv6, "ipv6", 45),
    taints,
    anchorCertificate: str(o.anchorCertificate, "anchorCertificate", 32_768),
    natsJwt: str(o.natsJwt, "natsJwt", 16_384),
    tlsCertificate: str(o.tlsCertificate, "tlsCertificate", 16_384),
    caBundle: str(o.caBundle, "caBundle", 65_536),
    masters,
    guardian: parsePublicKeys(o.guardian),
    issuedAt: time(o.issuedAt),
    expiresAt: time(o.expiresAt),
  };
}

export function parseRevocationList(value: unknown): RevocationList {
  const o = object(value);
  if (o.v !== API_VERSION || o.type !== "revocations") throw bad("not a revocation list of version 1");
  if (!Array.isArray(o.revoked)) throw bad("revoked must be a list");
  return {
    v: 1,
    type: "revocations",
    issuedAt: time(o.issuedAt),
    realm: o.realm === null ? null : str(o.realm, "realm", 64),
    revoked: o.revoked.map((r) => {
      const e = object(r);
      return {
        nodeId: str(e.nodeId, "nodeId", 64),
        realm: str(e.realm, "realm", 64),
        at: time(e.at),
        reason: str(e.reason, "reason", 256),
      };
    }),
  };
}

function object(v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad("expected a JSON object");
  return v as Record<string, unknown>;
}
function str(v: unknown, what: string, max: number): string {
  if (typeof v !== "string" || v.length === 0 || v.length > max)
    throw bad(`${what} must be a string of 1-${max}`);
  return v;
}
function time(v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw bad("timestamps are integer ms");
  return v;
}
function key(v: unknown, what: string, size: number): Uint8Array {
  const bytes = fromB64u(str(v, what, 4096), what);
  if (bytes.length !== size) throw bad(`${what} must be ${size} bytes`);
  return bytes;
}
function natsUser(v: unknown): string {
  const s = str(v, "natsPublicKey", 56);
  if (!/^U[A-Z2-7]{55}$/.test(s)) throw bad("natsPublicKey must be a NATS user public key");
  return s;
}
function pem(v: unknown): string {
  const s = str(v, "tlsPublicKey", 1024);
  if (!/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/.test(s)) {
    throw bad("tlsPublicKey must be an SPKI PEM public key");
  }
  return s;
}
function bad(message: string): GuardianApiError {
  return new GuardianApiError("BAD_REQUEST", message, 400);
}
