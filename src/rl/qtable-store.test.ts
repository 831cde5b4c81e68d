import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STORE_DECAY_HALF_LIFE_MS, STORE_MAX_AGE_MS } from "./constants.ts";
import { QTableStore } from "./qtable-store.ts";
import type { RouteRow } from "./types.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "veilnet-qtable-"));
  dirs.push(d);
  return join(d, "routes.sqlite");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const quiet = () => {
  const warnings: string[] = [];
  return { log: { warn: (m: string) => warnings.push(m) }, warnings };
};

const row = (dest: number, hops: number[], lastMs: number, nEff = 16): RouteRow => ({
  dest,
  hops,
  mu: 80,
  variance: 16,
  nEff,
  loss: 0.01,
  lastMs,
});

describe("qtable store", () => {
  test("writes in batches and reads back after a restart (WAL, 0600)", () => {
    const path = tmp();
    const s = QTableStore.open(path, { now: 0 });
    s.stage({ routes: [row(9, [1, 5, 9], 1_000), row(9, [2, 9], 1_000)], retired: [], links: [] });
    s.stage({
      routes: [],
      retired: [{ dest: 9, hops: [2, 9] }],
      links: [{ neighbour: 1, srtt: 10, rttvar: 2, nEff: 5, lastMs: 1_000 }],
    });
    expect(s.flush()).toBe(3);
    s.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const db = new Database(path, { readonly: true });
    expect((db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    db.close();
    const again = QTableStore.open(path, { now: 1_000 });
    const { routes, links } = again.load(1_000);
    again.close();
    expect(routes.map((r) => r.hops)).toEqual([[1, 5, 9]]);
    expect(routes[0]!.nEff).toBeCloseTo(16, 6);
    expect(links[0]!.srtt).toBe(10);
  });

  test("decays confidence by age and drops rows past the limit", () => {
    const path = tmp();
    const s = QTableStore.open(path, { now: 0 });
    s.stage({ routes: [row(9, [1, 9], 0), row(8, [1, 8], 0)], retired: [], links: [] });
    s.stage({ routes: [row(7, [1, 7], -STORE_MAX_AGE_MS)], retired: [], links: [] });
    s.close();
    const t = 2 * STORE_DECAY_HALF_LIFE_MS;
    const again = QTableStore.open(path, { now: t });
    const { routes } = again.load(t);
    again.close();
    expect(routes.length).toBe(2); // the 24 h old row is gone
    expect(routes[0]!.nEff).toBeCloseTo(4, 6); // two half-lives: 16 → 4
    expect(routes[0]!.variance).toBeGreaterThan(16);
  });

  test("a corrupt file is moved aside with a warning, not fatal", () => {
    const path = tmp();
    writeFileSync(path, "this is not a database, just some bytes ".repeat(200));
    const { log, warnings } = quiet();
    const s = QTableStore.open(path, { now: 123, log });
    expect(s.movedAside).toBe(`${path}.corrupt-123`);
    expect(existsSync(`${path}.corrupt-123`)).toBe(true);
    expect(warnings.length).toBe(1);
    expect(s.load(123).routes).toEqual([]);
    s.stage({ routes: [row(9, [1, 9], 100)], retired: [], links: [] });
    s.close();
  });

  test("a file of another schema version is moved aside", () => {
    const path = tmp();
    const s = QTableStore.open(path, { now: 0 });
    s.stage({ routes: [row(9, [1, 9], 0)], retired: [], links: [] });
    s.close();
    const db = new Database(path);
    db.query("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    db.close();
    const { log, warnings } = quiet();
    const again = QTableStore.open(path, { now: 5, log });
    expect(again.movedAside).toBe(`${path}.foreign-5`);
    expect(warnings[0]).toContain("another version");
    expect(again.load(5).routes).toEqual([]);
    again.close();
    expect(readdirSync(join(path, "..")).some((f) => f.startsWith("routes.sqlite.foreign-5"))).toBe(true);
  });

  test("a database from someone else is moved aside", () => {
    const path = tmp();
    const db = new Database(path);
    db.exec("CREATE TABLE other (x INTEGER)");
    db.close();
    const { log } = quiet();
    const s = QTableStore.open(path, { now: 9, log });
    expect(s.movedAside).toBe(`${path}.foreign-9`);
    s.close();
  });

  test("malformed rows are dropped on load", () => {
    const path = tmp();
    const s = QTableStore.open(path, { now: 0 });
    s.stage({ routes: [row(9, [1, 9], 0)], retired: [], links: [] });
    s.close();
    const db = new Database(path);
    const ins = db.query("INSERT INTO routes VALUES (?, ?, ?, ?, ?, ?, ?)");
    ins.run(9, "1,x,9", 80, 1, 1, 0, 0); // not numbers
    ins.run(9, "1,2,3,4,5,6,7,8,9,10,9", 80, 1, 1, 0, 0); // over the hop cap
    ins.run(9, "1,8", 80, 1, 1, 0, 0); // does not end at the destination
    ins.run(9, "2,9", -5, 1, 1, 0, 0); // negative RTT
    db.close();
    const again = QTableStore.open(path, { now: 0 });
    expect(again.load(0).routes.map((r) => r.hops)).toEqual([[1, 9]]);
    again.close();
  });
});
