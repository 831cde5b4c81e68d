import { describe, expect, test } from "bun:test";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalControlServer, requestLocal } from "./local-control.ts";

describe("local control socket", () => {
  test("answers known commands, refuses unknown ones, is 0600", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "veilnet-lc-")), "veilnet.sock");
    const server = LocalControlServer.listen(path, {
      status: () => ({ peers: 3 }),
      echo: (args) => args,
      boom: () => {
        throw new Error("exploded");
      },
    });
    try {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(await requestLocal(path, "status")).toEqual({ peers: 3 });
      expect(await requestLocal(path, "echo", { x: 1 })).toEqual({ x: 1 });
      await expect(requestLocal(path, "nope")).rejects.toThrow("unknown command 'nope'");
      await expect(requestLocal(path, "boom")).rejects.toThrow("exploded");
    } finally {
      server.stop();
    }
    await expect(requestLocal(path, "status")).rejects.toThrow("no node is running");
  });
});
