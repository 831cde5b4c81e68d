/**
 * The Guardian database schema, as an ordered list of migrations. `PRAGMA user_version` records how
 * many have run; each runs in its own transaction, so a crash leaves the schema at a whole version.
 * Never edit a shipped migration: append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: realms, tokens, nodes, revocations, the append-only audit log.
  `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

  CREATE TABLE realms (
    id             TEXT PRIMARY KEY,
    account_public TEXT NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE tokens (
    hash        TEXT PRIMARY KEY,
    realm       TEXT NOT NULL REFERENCES realms(id),
    taints      TEXT NOT NULL,
    max_uses    INTEGER NOT NULL CHECK (max_uses > 0),
    uses        INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    label       TEXT NOT NULL DEFAULT ''
  ) STRICT;

  CREATE TABLE nodes (
    id             TEXT PRIMARY KEY,
    realm          TEXT NOT NULL REFERENCES realms(id),
    ed25519        BLOB NOT NULL,
    mldsa65        BLOB NOT NULL,
    x25519         BLOB NOT NULL,
    mlkem768       BLOB NOT NULL,
    nats_public    TEXT NOT NULL,
    tls_public     BLOB NOT NULL,
    ipv4           INTEGER NOT NULL,
    ipv6           TEXT NOT NULL,
    taints         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'quarantined', 'revoked')),
    enrolled_at    INTEGER NOT NULL,
    renewed_at     INTEGER NOT NULL,
    last_signed_at INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    UNIQUE (realm, ipv4)
  ) STRICT;

  CREATE TABLE token_uses (
    token_hash TEXT NOT NULL REFERENCES tokens(hash),
    node_id    TEXT NOT NULL REFERENCES nodes(id),
    at         INTEGER NOT NULL,
    PRIMARY KEY (token_hash, node_id)
  ) STRICT;

  CREATE TABLE revocations (
    node_id     TEXT PRIMARY KEY REFERENCES nodes(id),
    realm       TEXT NOT NULL REFERENCES realms(id),
    nats_public TEXT NOT NULL,
    at          INTEGER NOT NULL,
    reason      TEXT NOT NULL
  ) STRICT;

  CREATE TABLE audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL
  ) STRICT;
  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
