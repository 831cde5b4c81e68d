/** Opens the Guardian database: WAL, foreign keys, busy timeout, migrations to SCHEMA_VERSION. */
import { Database } from "bun:sqlite";
import { chmodSync, existsSync } from "node:fs";
import { GuardianStateError } from "../errors.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";

/* Implementation constants */
export const BUSY_TIMEOUT_MS = 5_000;

export function openDatabase(path: string, options: { create?: boolean } = {}): Database {
  if (!options.create && !existsSync(path)) {
    throw new GuardianStateError("STATE_MISSING", `no Guardian database at ${path} (run init first)`);
  }
  const db = new Database(path, { create: true, strict: true });
  chmodSync(path, 0o600);
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA foreign_keys = ON");
  migrate(db);
  return db;
}

export function schemaVersion(db: Database): number {
  const row = db.query("PRAGMA user_version").get() as { user_version: number };
  return row.user_version;
}

function migrate(db: Database): void {
  const current = schemaVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new GuardianStateError(
      "STATE_TOO_NEW",
      `database schema ${current} is newer than this build understands (${SCHEMA_VERSION})`,
    );
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    }).immediate();
  }
}
