/**
 * The Q-table on disk (bun:sqlite, WAL). Rows are staged as the agent changes them and written in one
 * transaction per flush (write-behind, research/rl.md: every 10 s and on exit). On load, rows are
 * aged (decay.ts). A file that is not a database, fails its integrity check, or carries another
 * schema version is moved aside with a warning and a fresh table starts: losing learned routes costs
 * a cold start, never the node.
 */
import { Database } from "bun:sqlite";
import { chmodSync, existsSync, renameSync } from "node:fs";
import { HOP_CAP, STORE_SCHEMA_VERSION } from "./constants.ts";
import { ageLink, ageRoute } from "./decay.ts";
import { QTableStoreError } from "./errors.ts";
import type { Hops, LinkRow, NodeId, RouteRow } from "./types.ts";

export const STORE_APP = "veilnet-rl";
/** Staged rows beyond this flush at once. */
const AUTO_FLUSH_ROWS = 2_000;

export interface StoreLog {
  warn(message: string): void;
}

export interface Changes {
  readonly routes: readonly RouteRow[];
  readonly retired: readonly { dest: NodeId; hops: Hops }[];
  readonly links: readonly LinkRow[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS routes (
  dest INTEGER NOT NULL, hops TEXT NOT NULL, mu REAL NOT NULL, variance REAL NOT NULL,
  n_eff REAL NOT NULL, loss REAL NOT NULL, last_ms REAL NOT NULL, PRIMARY KEY (dest, hops)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links (
  neighbour INTEGER PRIMARY KEY, srtt REAL NOT NULL, rttvar REAL NOT NULL, n_eff REAL NOT NULL,
  last_ms REAL NOT NULL);`;

export class QTableStore {
  private staged = new Map<string, RouteRow>();
  private stagedRetired = new Map<string, { dest: NodeId; hops: Hops }>();
  private stagedLinks = new Map<NodeId, LinkRow>();
  /** Where a bad file was moved, if one was. */
  readonly movedAside: string | null;

  private constructor(
    private readonly db: Database,
    movedAside: string | null,
  ) {
    this.movedAside = movedAside;
  }

  /** Opens (or creates) the table at `path` (":memory:" for none). `now` names a moved-aside file. */
  static open(path: string, opts: { now: number; log?: StoreLog }): QTableStore {
    const log = opts.log ?? { warn: (m: string) => console.warn(m) };
    let moved: string | null = null;
    if (path !== ":memory:" && existsSync(path)) {
      const problem = inspect(path);
      if (problem) {
        moved = `${path}.${problem}-${Math.floor(opts.now)}`;
        for (const suffix of ["", "-wal", "-shm"]) {
          if (existsSync(path + suffix)) renameSync(path + suffix, moved + suffix);
        }
        log.warn(
          `routing table ${path} is ${problem === "corrupt" ? "corrupt" : "from another version"}; moved to ${moved}, starting cold`,
        );
      }
    }
    let db: Database;
    try {
      db = new Database(path, { create: true });
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
      db.exec(SCHEMA);
      db.query("INSERT OR IGNORE INTO meta (key, value) VALUES ('app', ?), ('schema_version', ?)").run(
        STORE_APP,
        String(STORE_SCHEMA_VERSION),
      );
      if (path !== ":memory:") chmodSync(path, 0o600);
    } catch (err) {
      throw new QTableStoreError("QTABLE_OPEN", `cannot open routing table ${path}`, { cause: err });
    }
    return new QTableStore(db, moved);
  }

  /** All rows, aged to `now`; rows too old or malformed are dropped (and deleted). */
  load(now: number): { routes: RouteRow[]; links: LinkRow[] } {
    const routes: RouteRow[] = [];
    const links: LinkRow[] = [];
    const rs = this.db
      .query("SELECT dest, hops, mu, variance, n_eff, loss, last_ms FROM routes")
      .all() as Record<string, unknown>[];
    for (const r of rs) {
      const row = parseRoute(r);
      const aged = row && ageRoute(row, now);
      if (aged) routes.push(aged);
      else
        this.db
          .query("DELETE FROM routes WHERE dest = ? AND hops = ?")
          .run(r.dest as number, r.hops as string);
    }
    const ls = this.db.query("SELECT neighbour, srtt, rttvar, n_eff, last_ms FROM links").all() as Record<
      string,
      unknown
    >[];
    for (const r of ls) {
      const row = parseLink(r);
      const aged = row && ageLink(row, now);
      if (aged) links.push(aged);
      else this.db.query("DELETE FROM links WHERE neighbour = ?").run(r.neighbour as number);
    }
    return { routes, links };
  }

  /** Stages the agent's changes (agent.takeChanges()); flushes when many are staged. */
  stage(c: Changes): void {
    for (const r of c.routes) {
      const k = key(r.dest, r.hops);
      this.staged.set(k, r);
      this.stagedRetired.delete(k);
    }
    for (const r of c.retired) {
      const k = key(r.dest, r.hops);
      this.staged.delete(k);
      this.stagedRetired.set(k, r);
    }
    for (const l of c.links) this.stagedLinks.set(l.neighbour, l);
    if (this.staged.size + this.stagedRetired.size + this.stagedLinks.size > AUTO_FLUSH_ROWS) this.flush();
  }

  /** Writes everything staged in one transaction. Returns the number of rows written. */
  flush(): number {
    const n = this.staged.size + this.stagedRetired.size + this.stagedLinks.size;
    if (n === 0) return 0;
    const up = this.db.query(
      `INSERT INTO routes (dest, hops, mu, variance, n_eff, loss, last_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (dest, hops) DO UPDATE SET mu = excluded.mu, variance = excluded.variance,
       n_eff = excluded.n_eff, loss = excluded.loss, last_ms = excluded.last_ms`,
    );
    const del = this.db.query("DELETE FROM routes WHERE dest = ? AND hops = ?");
    const link = this.db.query(
      `INSERT INTO links (neighbour, srtt, rttvar, n_eff, last_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (neighbour) DO UPDATE SET srtt = excluded.srtt, rttvar = excluded.rttvar,
       n_eff = excluded.n_eff, last_ms = excluded.last_ms`,
    );
    this.db.transaction(() => {
      for (const r of this.staged.values()) {
        up.run(r.dest, r.hops.join(","), r.mu, r.variance, r.nEff, r.loss, r.lastMs);
      }
      for (const r of this.stagedRetired.values()) del.run(r.dest, r.hops.join(","));
      for (const l of this.stagedLinks.values()) link.run(l.neighbour, l.srtt, l.rttvar, l.nEff, l.lastMs);
    })();
    this.staged = new Map();
    this.stagedRetired = new Map();
    this.stagedLinks = new Map();
    return n;
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}

/** "corrupt", "foreign" or null (usable). */
function inspect(path: string): "corrupt" | "foreign" | null {
  let db: Database | null = null;
  try {
    db = new Database(path, { readonly: true });
    const check = db.query("PRAGMA quick_check").get() as { quick_check?: string } | null;
    if (check?.quick_check !== "ok") return "corrupt";
    const tables = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").all();
    if (tables.length === 0) return "foreign";
    const meta = new Map(
      (db.query("SELECT key, value FROM meta").all() as { key: string; value: string }[]).map((r) => [
        r.key,
        r.value,
      ]),
    );
    if (meta.get("app") !== STORE_APP || meta.get("schema_version") !== String(STORE_SCHEMA_VERSION))
      return "foreign";
    return null;
  } catch {
    return "corrupt";
  } finally {
    db?.close();
  }
}

const finite = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

function parseRoute(r: Record<string, unknown>): RouteRow | null {
  const { dest, hops, mu, variance, n_eff, loss, last_ms } = r;
  if (!finite(dest) || typeof hops !== "string" || !finite(mu) || !finite(variance)) return null;
  if (!finite(n_eff) || !finite(loss) || !finite(last_ms) || mu <= 0 || variance < 0 || n_eff < 0)
    return null;
  const parts = hops.split(",");
  if (parts.length === 0 || parts.length > HOP_CAP) return null;
  const list = parts.map(Number);
  if (!list.every((h) => Number.isInteger(h) && h >= 0 && h <= 0xffffffff)) return null;
  if (list[list.length - 1] !== dest) return null;
  return {
    dest,
    hops: list,
    mu,
    variance,
    nEff: n_eff,
    loss: Math.min(1, Math.max(0, loss)),
    lastMs: last_ms,
  };
}

function parseLink(r: Record<string, unknown>): LinkRow | null {
  const { neighbour, srtt, rttvar, n_eff, last_ms } = r;
  if (!finite(neighbour) || !finite(srtt) || !finite(rttvar) || !finite(n_eff) || !finite(last_ms))
    return null;
  if (srtt <= 0 || rttvar < 0 || n_eff < 0) return null;
  return { neighbour, srtt, rttvar, nEff: n_eff, lastMs: last_ms };
}

function key(dest: NodeId, hops: Hops): string {
  return `${dest}|${hops.join(",")}`;
}
