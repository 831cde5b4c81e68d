import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { followLocal, LocalControlServer } from "../../control/local-control.ts";
import type { NodeEvent } from "./events.ts";
import { LocalViews } from "./local-views.ts";

describe("local views: the events stream", () => {
  test("--follow replays the last N stored events, then streams new ones; closing releases the follower", async () => {
    const views = new LocalViews();
    for (let i = 0; i < 5; i++) views.emit("peer.discovered", `p${i}`, { i });
    const path = join(mkdtempSync(join(tmpdir(), "veilnet-lv-")), "veilnet.sock");
    const server = LocalControlServer.listen(path, {}, views.streams());
    try {
      const got: NodeEvent[] = [];
      const f = followLocal(path, "events", { replay: 2 }, (v) => got.push(v as NodeEvent));
      while (views.events.subscribers === 0) await Bun.sleep(5);
      views.emit("session.up", "p4", { localIndex: 1, remoteIndex: 2 });
      views.emit("session.rekey", "p4", { localIndex: 3, remoteIndex: 4 });
      views.emit("session.down", "p4", { reason: "silent" });
      for (let i = 0; i < 200 && got.length < 5; i++) await Bun.sleep(5);
      expect(got.map((e) => `${e.seq}:${e.type}`)).toEqual([
        "4:peer.discovered",
        "5:peer.discovered",
        "6:session.up",
        "7:session.rekey",
        "8:session.down",
      ]);
      f.close();
      await f.done;
      for (let i = 0; i < 100 && views.events.subscribers > 0; i++) await Bun.sleep(5);
      expect(views.events.subscribers).toBe(0);
    } finally {
      server.stop();
    }
  });
});
