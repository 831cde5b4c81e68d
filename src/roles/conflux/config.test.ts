import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONFLUX_DEFAULTS, derivedListenPort, loadConfluxConfig } from "./config.ts";

describe("conflux config", () => {
  test("defaults", () => {
    const c = loadConfluxConfig({});
    expect(c.listenPort).toBeUndefined();
    const port = derivedListenPort(Uint8Array.of(0xff, 0xff, 1));
    expect(port).toBeGreaterThanOrEqual(CONFLUX_DEFAULTS.listenPortBase);
    expect(port).toBeLessThan(CONFLUX_DEFAULTS.listenPortBase + CONFLUX_DEFAULTS.listenPortSpan);
    expect(c.tunName).toBe("veil0");
    expect(c.mtu).toBeUndefined(); // derived from the underlay at start
  });

  test("flags override the file, file overrides defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), "veilnet-cfg-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ listen: 4000, mtu: 1400, tun: "vx0" }));
    const c = loadConfluxConfig({ config: file, listen: "5000" });
    expect(c.listenPort).toBe(5000);
    expect(c.mtu).toBe(1400);
    expect(c.tunName).toBe("vx0");
  });

  test("embedded mode has no TUN", () => {
    expect(loadConfluxConfig({ embedded: true }).tunName).toBeUndefined();
  });

  test("bad input names the key and the range", () => {
    expect(() => loadConfluxConfig({ listen: "70000" })).toThrow(
      "listen: '70000' is not an integer in 0..65535",
    );
    expect(() => loadConfluxConfig({ mtu: "500" })).toThrow("mtu:");
    expect(() => loadConfluxConfig({ tun: "this-name-is-far-too-long" })).toThrow("tun:");
    expect(() => loadConfluxConfig({ guardian: "ftp://x" })).toThrow("guardian:");
    expect(() => loadConfluxConfig({ config: "/nonexistent.json" })).toThrow("does not exist");
  });
});
