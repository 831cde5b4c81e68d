/**
 * The Guardian's state: one sqlite database, every mutation in a transaction, every change audited in
 * the same transaction (so the audit log and the state never disagree, even after SIGKILL).
 * Refusals write nothing.
 */
import type { Database } from "bun:sqlite";
import { GuardianError } from "../errors.ts";
import {
  type AuditRecord,
  auditFromRow,
  type NodeRecord,
  NodeStatus,
  nodeFromRow,
  type RealmRecord,
  type RevocationRecord,
  realmFromRow,
  revocationFromRow,
  type TokenRecord,
  tokenFromRow,
} from "./records.ts";

export interface NewToken {
  readonly hash: string;
  readonly realm: string;
  readonly taints: readonly string[];
  readonly maxUses: number;
  readonly expiresAt: number;
  readonly label: string;
}

/** What an enrolment writes; built by enrol.ts after the credentials are signed. */
export interface EnrolmentPlan {
  readonly tokenHash: string;
  readonly realm: string;
  readonly node: Omit<NodeRecord, "status" | "enrolledAt" | "renewedAt">;
  readonly now: number;
}

export class Store {
  readonly db: Database;
  constructor(db: Database) {
    this.db = db;
  }

  close(): void {
    this.db.close();
  }

  /* settings */
  setting(key: string): string | undefined {
    const row = this.db.query("SELECT value FROM settings WHERE key = ?").get(key) as {
      value: string;
    } | null;
    return row?.value;
  }
  setSetting(key: string, value: string): void {
    this.db.query("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)").run(key, value);
  }

  /* audit */
  audit(actor: string, action: string, target: string, outcome: string, detail: unknown, now: number): void {
    this.db
      .query("INSERT INTO audit (at, actor, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)")
      .run(now, actor, action, target, outcome, JSON.stringify(detail ?? {}));
  }
  auditLog(limit = 100): AuditRecord[] {
    return this.db
      .query("SELECT * FROM (SELECT * FROM audit ORDER BY seq DESC LIMIT ?) ORDER BY seq")
      .all(limit)
      .map((r) => auditFromRow(r as Record<string, unknown>));
  }

  /* realms */
  createRealm(id: string, accountPublic: string, actor: string, now: number): RealmRecord {
    return this.db
      .transaction(() => {
        if (this.realm(id)) throw new GuardianError("REALM_EXISTS", `realm '${id}' already exists`, 409);
        this.db
          .query("INSERT INTO realms (id, account_public, created_at) VALUES (?, ?, ?)")
          .run(id, accountPublic, now);
        this.audit(actor, "realm.create", id, "ok", { accountPublic }, now);
        return this.realm(id)!;
      })
      .immediate();
  }
  realm(id: string): RealmRecord | undefined {
    const row = this.db.query("SELECT * FROM realms WHERE id = ?").get(id);
    return row ? realmFromRow(row as Record<string, unknown>) : undefined;
  }
  realms(): RealmRecord[] {
    return this.db
      .query("SELECT * FROM realms ORDER BY id")
      .all()
      .map((r) => realmFromRow(r as Record<string, unknown>));
  }

  /* tokens */
  createToken(t: NewToken, actor: string, now: number): TokenRecord {
    return this.db
      .transaction(() => {
        if (!this.realm(t.realm)) throw new GuardianError("REALM_UNKNOWN", `no realm '${t.realm}'`, 404);
        this.db
          .query(
            `INSERT INTO tokens (hash, realm, taints, max_uses, expires_at, created_at, label)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(t.hash, t.realm, JSON.stringify(t.taints), t.maxUses, t.expiresAt, now, t.label);
        this.audit(actor, "token.create", t.hash.slice(0, 12), "ok", { ...t, hash: undefined }, now);
        return this.token(t.hash)!;
      })
      .immediate();
  }
  token(hash: string): TokenRecord | undefined {
    const row = this.db.query("SELECT * FROM tokens WHERE hash = ?").get(hash);
    return row ? tokenFromRow(row as Record<string, unknown>) : undefined;
  }
  tokens(): TokenRecord[] {
    return this.db
      .query("SELECT * FROM tokens ORDER BY created_at")
      .all()
      .map((r) => tokenFromRow(r as Record<string, unknown>));
  }
  tokenUsedBy(hash: string, nodeId: string): boolean {
    return !!this.db.query("SELECT 1 FROM token_uses WHERE token_hash = ? AND node_id = ?").get(hash, nodeId);
  }

  /**
   * Checks a token for an enrolment of `nodeId` into `realm`. Returns `retry: true` when this node
   * already consumed the token (a retried enrolment whose answer was lost): that is allowed again
   * and consumes nothing. Throws the refusal otherwise.
   */
  checkToken(
    hash: string,
    realm: string,
    nodeId: string,
    now: number,
  ): { token: TokenRecord; retry: boolean } {
    const token = this.token(hash);
    if (!token) throw new GuardianError("TOKEN_INVALID", "the enrolment token is not known", 401);
    if (token.realm !== realm) {
      throw new GuardianError(
        "TOKEN_WRONG_REALM",
        `the enrolment token is not valid for realm '${realm}'`,
        403,
      );
    }
    if (token.expiresAt <= now) {
      throw new GuardianError(
        "TOKEN_EXPIRED",
        `the enrolment token expired at ${new Date(token.expiresAt).toISOString()}`,
        401,
      );
    }
    if (this.tokenUsedBy(hash, nodeId)) return { token, retry: true };
    if (token.uses >= token.maxUses) {
      throw new GuardianError(
        "TOKEN_USED",
        `the enrolment token has already been used (${token.uses} of ${token.maxUses})`,
        409,
      );
    }
    return { token, retry: false };
  }

  /* nodes */
  node(id: string): NodeRecord | undefined {
    const row = this.db.query("SELECT * FROM nodes WHERE id = ?").get(id);
    return row ? nodeFromRow(row as Record<string, unknown>) : undefined;
  }
  nodes(realm?: string): NodeRecord[] {
    const rows = realm
      ? this.db.query("SELECT * FROM nodes WHERE realm = ? ORDER BY realm, ipv4").all(realm)
      : this.db.query("SELECT * FROM nodes ORDER BY realm, ipv4").all();
    return rows.map((r) => nodeFromRow(r as Record<string, unknown>));
  }
  ipv4Taken(realm: string, offset: number, exceptNode?: string): boolean {
    const row = this.db.query("SELECT id FROM nodes WHERE realm = ? AND ipv4 = ?").get(realm, offset) as {
      id: string;
    } | null;
    return !!row && row.id !== exceptNode;
  }

  /**
   * The enrolment transaction: re-checks the token and the node under the write lock, then writes
   * the node, the token use and the audit entry together. Throws (writing nothing) on any refusal;
   * `IPV4_RACE` means another enrolment took the planned address first: plan again.
   */
  commitEnrolment(plan: EnrolmentPlan): NodeRecord {
    const { node, now } = plan;
    return this.db
      .transaction(() => {
        const { retry } = this.checkToken(plan.tokenHash, plan.realm, node.id, now);
        const existing = this.node(node.id);
        if (existing?.status === NodeStatus.Revoked) {
          throw new GuardianError("NODE_REVOKED", "this node identity has been revoked", 403);
        }
        if (existing && existing.realm !== plan.realm) {
          throw new GuardianError("NODE_REALM_CONFLICT", `this node is enrolled in another realm`, 409);
        }
        if (this.ipv4Taken(plan.realm, node.ipv4, node.id)) {
          throw new GuardianError("IPV4_RACE", "planned overlay address was taken", 409);
        }
        const k = node.publicKeys;
        this.db
          .query(
            `INSERT INTO nodes (id, realm, ed25519, mldsa65, x25519, mlkem768, nats_public, tls_public, ipv4,
               ipv6, taints, status, enrolled_at, renewed_at, last_signed_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET nats_public = excluded.nats_public,
               tls_public = excluded.tls_public, taints = excluded.taints, renewed_at = excluded.renewed_at,
               last_signed_at = excluded.last_signed_at, expires_at = excluded.expires_at`,
          )
          .run(
            node.id,
            plan.realm,
            k.ed25519,
            k.mldsa65,
            k.x25519,
            k.mlkem768,
            node.natsPublic,
            node.tlsPublic,
            node.ipv4,
            node.ipv6,
            JSON.stringify(node.taints),
            now,
            now,
            node.lastSignedAt,
            node.expiresAt,
          );
        if (!retry) {
          this.db.query("UPDATE tokens SET uses = uses + 1 WHERE hash = ?").run(plan.tokenHash);
          this.db
            .query("INSERT INTO token_uses (token_hash, node_id, at) VALUES (?, ?, ?)")
            .run(plan.tokenHash, node.id, now);
        }
        const action = retry ? "node.enrol.retry" : existing ? "node.reenrol" : "node.enrol";
        this.audit(`token:${plan.tokenHash.slice(0, 12)}`, action, node.id, "ok", { realm: plan.realm }, now);
        return this.node(node.id)!;
      })
      .immediate();
  }

  /** Records a renewal; `signedAt` must be newer than any request accepted before (replay guard). */
  commitRenewal(
    nodeId: string,
    change: { signedAt: number; expiresAt: number; natsPublic: string; tlsPublic: Uint8Array },
    now: number,
  ): NodeRecord {
    return this.db
      .transaction(() => {
        const node = this.node(nodeId);
        if (!node) throw new GuardianError("NODE_UNKNOWN", "no such node", 404);
        if (node.status === NodeStatus.Revoked) {
          throw new GuardianError("NODE_REVOKED", "this node identity has been revoked", 403);
        }
        if (change.signedAt <= node.lastSignedAt) {
          throw new GuardianError(
            "RENEW_REPLAYED",
            "this renewal request is not newer than the last one",
            409,
          );
        }
        this.db
          .query(
            `UPDATE nodes SET renewed_at = ?, last_signed_at = ?, expires_at = ?, nats_public = ?,
               tls_public = ? WHERE id = ?`,
          )
          .run(now, change.signedAt, change.expiresAt, change.natsPublic, change.tlsPublic, nodeId);
        this.audit(`node:${nodeId.slice(0, 16)}`, "node.renew", nodeId, "ok", {}, now);
        return this.node(nodeId)!;
      })
      .immediate();
  }

  setStatus(nodeId: string, status: NodeStatus, actor: string, now: number): NodeRecord {
    return this.db
      .transaction(() => {
        const node = this.requireNode(nodeId);
        if (node.status === NodeStatus.Revoked && status !== NodeStatus.Revoked) {
          throw new GuardianError("NODE_REVOKED", "a revoked node cannot be reinstated", 409);
        }
        this.db.query("UPDATE nodes SET status = ? WHERE id = ?").run(status, nodeId);
        this.audit(actor, `node.status.${status}`, nodeId, "ok", { from: node.status }, now);
        return this.node(nodeId)!;
      })
      .immediate();
  }

  setTaints(nodeId: string, taints: readonly string[], actor: string, now: number): NodeRecord {
    return this.db
      .transaction(() => {
        const node = this.requireNode(nodeId);
        this.db.query("UPDATE nodes SET taints = ? WHERE id = ?").run(JSON.stringify(taints), nodeId);
        this.audit(actor, "node.taints", nodeId, "ok", { from: node.taints, to: taints }, now);
        return this.node(nodeId)!;
      })
      .immediate();
  }

  revoke(nodeId: string, reason: string, actor: string, now: number): RevocationRecord {
    return this.db
      .transaction(() => {
        const node = this.requireNode(nodeId);
        this.db.query("UPDATE nodes SET status = 'revoked' WHERE id = ?").run(nodeId);
        this.db
          .query(
            `INSERT OR IGNORE INTO revocations (node_id, realm, nats_public, at, reason) VALUES (?, ?, ?, ?, ?)`,
          )
          .run(nodeId, node.realm, node.natsPublic, now, reason);
        this.audit(actor, "node.revoke", nodeId, "ok", { reason }, now);
        return this.revocations().find((r) => r.nodeId === nodeId)!;
      })
      .immediate();
  }

  revocations(realm?: string): RevocationRecord[] {
    const rows = realm
      ? this.db.query("SELECT * FROM revocations WHERE realm = ? ORDER BY at, node_id").all(realm)
      : this.db.query("SELECT * FROM revocations ORDER BY at, node_id").all();
    return rows.map((r) => revocationFromRow(r as Record<string, unknown>));
  }

  /** Resolves a node by full id, unique id prefix (≥ 8 hex), or overlay address. */
  findNode(ref: string): NodeRecord | undefined {
    if (/^[0-9a-f]{64}$/.test(ref)) return this.node(ref);
    if (/^[0-9a-f]{8,63}$/.test(ref)) {
      const rows = this.db.query("SELECT * FROM nodes WHERE id LIKE ? LIMIT 2").all(`${ref}%`);
      return rows.length === 1 ? nodeFromRow(rows[0] as Record<string, unknown>) : undefined;
    }
    const row = this.db.query("SELECT * FROM nodes WHERE ipv6 = ?").get(ref);
    return row ? nodeFromRow(row as Record<string, unknown>) : undefined;
  }

  private requireNode(nodeId: string): NodeRecord {
    const node = this.node(nodeId);
    if (!node) throw new GuardianError("NODE_UNKNOWN", "no such node", 404);
    return node;
  }
}
