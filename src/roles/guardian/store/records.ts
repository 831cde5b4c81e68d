/** Rows of the Guardian database, as the rest of the role sees them. */
import type { PublicKeys } from "../../../anchor/identity.ts";

export const NodeStatus = { Active: "active", Quarantined: "quarantined", Revoked: "revoked" } as const;
export type NodeStatus = (typeof NodeStatus)[keyof typeof NodeStatus];

export interface RealmRecord {
  readonly id: string;
  readonly accountPublic: string;
  readonly createdAt: number;
}

export interface TokenRecord {
  readonly hash: string;
  readonly realm: string;
  readonly taints: readonly string[];
  readonly maxUses: number;
  readonly uses: number;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly label: string;
}

export interface NodeRecord {
  readonly id: string;
  readonly realm: string;
  readonly publicKeys: PublicKeys;
  readonly natsPublic: string;
  readonly tlsPublic: Uint8Array;
  /** Offset inside 100.64.0.0/10 (see ipv4.ts). */
  readonly ipv4: number;
  readonly ipv6: string;
  readonly taints: readonly string[];
  readonly status: NodeStatus;
  readonly enrolledAt: number;
  readonly renewedAt: number;
  /** The issuedAt of the last signed request accepted from the node (renewal replay guard). */
  readonly lastSignedAt: number;
  /** When the credentials issued last expire. */
  readonly expiresAt: number;
}

export interface RevocationRecord {
  readonly nodeId: string;
  readonly realm: string;
  readonly natsPublic: string;
  readonly at: number;
  readonly reason: string;
}

export interface AuditRecord {
  readonly seq: number;
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly outcome: string;
  readonly detail: string;
}

// biome-ignore lint/suspicious/noExplicitAny: sqlite rows are untyped until mapped here
type Row = Record<string, any>;

export function realmFromRow(r: Row): RealmRecord {
  return { id: r.id, accountPublic: r.account_public, createdAt: r.created_at };
}

export function tokenFromRow(r: Row): TokenRecord {
  return {
    hash: r.hash,
    realm: r.realm,
    taints: JSON.parse(r.taints),
    maxUses: r.max_uses,
    uses: r.uses,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    label: r.label,
  };
}

export function nodeFromRow(r: Row): NodeRecord {
  return {
    id: r.id,
    realm: r.realm,
    publicKeys: {
      ed25519: new Uint8Array(r.ed25519),
      mldsa65: new Uint8Array(r.mldsa65),
      x25519: new Uint8Array(r.x25519),
      mlkem768: new Uint8Array(r.mlkem768),
    },
    natsPublic: r.nats_public,
    tlsPublic: new Uint8Array(r.tls_public),
    ipv4: r.ipv4,
    ipv6: r.ipv6,
    taints: JSON.parse(r.taints),
    status: r.status,
    enrolledAt: r.enrolled_at,
    renewedAt: r.renewed_at,
    lastSignedAt: r.last_signed_at,
    expiresAt: r.expires_at,
  };
}

export function revocationFromRow(r: Row): RevocationRecord {
  return { nodeId: r.node_id, realm: r.realm, natsPublic: r.nats_public, at: r.at, reason: r.reason };
}

export function auditFromRow(r: Row): AuditRecord {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    detail: r.detail,
  };
}
