import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-file.ts";

describe("writeFileAtomic", () => {
  const dir = mkdtempSync(join(tmpdir(), "veilnet-atomic-"));

  test("writes with the requested mode and replaces atomically", () => {
    const path = join(dir, "secret");
    writeFileAtomic(path, "one", { mode: 0o600 });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    writeFileAtomic(path, "two", { mode: 0o600 });
    expect(readFileSync(path, "utf8")).toBe("two");
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  test("exclusive refuses to overwrite and leaves no temporary file", () => {
    const path = join(dir, "key");
    writeFileAtomic(path, "first", { mode: 0o600, exclusive: true });
    expect(() => writeFileAtomic(path, "second", { mode: 0o600, exclusive: true })).toThrow(
      "refusing to overwrite",
    );
    expect(readFileSync(path, "utf8")).toBe("first");
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  test("a missing directory is a typed error", () => {
    expect(() => writeFileAtomic(join(dir, "nope", "x"), "x")).toThrow("cannot write");
  });
});
