import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allocateIpv4, ipv4String, usableOffset } from "../ipv4.ts";
import { openDatabase, schemaVersion } from "./database.ts";
import { SCHEMA_VERSION } from "./schema.ts";
import { Store } from "./store.ts";

test("database: WAL, 0600, migrations run once, the audit log is append-only", () => {
  const dir = mkdtempSync(join(tmpdir(), "vn-store-"));
  try {
    const path = join(dir, "g.db");
    const s = new Store(openDatabase(path, { create: true }));
    expect(schemaVersion(s.db)).toBe(SCHEMA_VERSION);
    expect((s.db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    s.audit("t", "x", "y", "ok", {}, 1);
    expect(() => s.db.exec("UPDATE audit SET outcome = 'no'")).toThrow("append-only");
    expect(() => s.db.exec("DELETE FROM audit")).toThrow("append-only");
    s.close();
    const again = new Store(openDatabase(path));
    expect(again.auditLog().length).toBe(1);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("overlay IPv4: stable per (realm, node), skips taken and .0/.255 offsets, stays in 100.64.0.0/10", () => {
  const taken = new Set<number>();
  const first = allocateIpv4("alpha", "ab".repeat(32), (o) => taken.has(o));
  expect(allocateIpv4("alpha", "ab".repeat(32), () => false)).toBe(first);
  taken.add(first);
  const second = allocateIpv4("alpha", "ab".repeat(32), (o) => taken.has(o));
  expect(second).not.toBe(first);
  expect(usableOffset(second)).toBe(true);
  expect(ipv4String(0)).toBe("100.64.0.0");
  expect(ipv4String((1 << 22) - 1)).toBe("100.127.255.255");
});
