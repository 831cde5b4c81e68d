import { describe, expect, test } from "bun:test";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VeilnetError } from "../errors.ts";
import { EventRing, type NodeEvent } from "../roles/conflux/events.ts";
import { FOLLOWER_MAX_PENDING_BYTES } from "./event-follower.ts";
import {
  connectError,
  followLocal,
  LocalControlError,
  LocalControlServer,
  requestLocal,
} from "./local-control.ts";

const socketPath = () => join(mkdtempSync(join(tmpdir(), "veilnet-lc-")), "veilnet.sock");

/** A stream handler over a ring, as the node's `events --follow`. */
function eventStreams(ring: EventRing) {
  return {
    events: (_args: Record<string, unknown>, follower: { push(e: NodeEvent): void }) => {
      const off = ring.subscribe((e) => follower.push(e));
      if (!off) throw new Error("too many event followers");
      return off;
    },
  };
}

describe("local control socket", () => {
  test("answers known commands, refuses unknown ones, is 0600", async () => {
    const path = socketPath();
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
      await expect(requestLocal(path, "__proto__")).rejects.toThrow("unknown command");
    } finally {
      server.stop();
    }
    await expect(requestLocal(path, "status")).rejects.toThrow("no node is running");
  });

  test("a refusal keeps the handler's error code; codes that are not plain, or name the socket itself, do not pass", async () => {
    const path = socketPath();
    const thrower = (code: string) => () => {
      throw new VeilnetError(code, `failed with ${code}`);
    };
    const server = LocalControlServer.listen(path, {
      typed: thrower("ADMIN_BAD_REQUEST"),
      spoof: thrower("LOCAL_NO_NODE"),
      odd: thrower("not-a-code"),
      long: thrower(`A${"_B".repeat(40)}`),
      plain: () => {
        throw new Error("no code");
      },
    });
    const codeOf = (cmd: string) =>
      requestLocal(path, cmd).then(
        () => "answered",
        (e: unknown) => (e instanceof LocalControlError ? e.code : String(e)),
      );
    try {
      expect(await codeOf("typed")).toBe("ADMIN_BAD_REQUEST");
      await expect(requestLocal(path, "typed")).rejects.toThrow("failed with ADMIN_BAD_REQUEST");
      expect(await codeOf("spoof")).toBe("LOCAL_REFUSED");
      expect(await codeOf("odd")).toBe("LOCAL_REFUSED");
      expect(await codeOf("long")).toBe("LOCAL_REFUSED");
      expect(await codeOf("plain")).toBe("LOCAL_REFUSED");
    } finally {
      server.stop();
    }
  });

  test("one-line reasons: no socket, stale socket, permission denied", async () => {
    const dir = mkdtempSync(join(tmpdir(), "veilnet-lc-"));
    const missing = join(dir, "veilnet.sock");
    await expect(requestLocal(missing, "status")).rejects.toMatchObject({ code: "LOCAL_NO_NODE" });
    // A socket path nobody listens on (a node that was killed): connect is refused.
    const stale = join(dir, "stale.sock");
    writeFileSync(stale, "");
    const err = await requestLocal(stale, "status").catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "LocalControlError" });
    expect(String((err as Error).message)).not.toContain("\n");
    // As root the permission check cannot be exercised here; the mapping is what the CLI prints.
    const denied = connectError(
      "/var/lib/veilnet/veilnet.sock",
      Object.assign(new Error("x"), { code: "EACCES" }),
    );
    expect(denied.code).toBe("LOCAL_PERMISSION");
    expect(denied.message).toContain("root-only");
    expect(connectError("/x", Object.assign(new Error("x"), { code: "ECONNREFUSED" })).code).toBe(
      "LOCAL_NO_NODE",
    );
  });

  test("follow: a stream of events until the client closes; refusals are errors", async () => {
    const path = socketPath();
    const ring = new EventRing(16);
    const server = LocalControlServer.listen(
      path,
      { events: () => ring.recent() },
      {
        ...eventStreams(ring),
        full: () => {
          throw new Error("too many event followers");
        },
      },
    );
    try {
      const got: unknown[] = [];
      let gotThree: () => void = () => {};
      const three = new Promise<void>((r) => {
        gotThree = r;
      });
      const f = followLocal(path, "events", {}, (v) => {
        got.push(v);
        if (got.length === 3) gotThree();
      });
      while (ring.subscribers === 0) await Bun.sleep(5);
      ring.emit("session.up", "aa", { endpoint: "198.18.0.2:4000" });
      ring.emit("path.switched", "bb", { reason: "better" });
      ring.emit("session.down", "aa", { reason: "silent" });
      await three;
      expect(got.map((e) => (e as NodeEvent).type)).toEqual(["session.up", "path.switched", "session.down"]);
      f.close();
      await f.done;
      for (let i = 0; i < 100 && ring.subscribers > 0; i++) await Bun.sleep(5);
      expect(ring.subscribers).toBe(0); // the node let go of the closed follower
      // The one-shot form of the same command still answers.
      expect((await requestLocal(path, "events")) as unknown[]).toHaveLength(3);
      // A stream the node refuses is an error, not an empty stream.
      await expect(followLocal(path, "full", {}, () => {}).done).rejects.toThrow("too many event followers");
      // A command without a stream refuses to follow.
      await expect(followLocal(path, "status", {}, () => {}).done).rejects.toThrow("unknown command");
    } finally {
      server.stop();
    }
  });

  test("a reader that stops reading costs the node a bounded buffer, never a wait", async () => {
    const path = socketPath();
    const ring = new EventRing(16);
    const server = LocalControlServer.listen(path, {}, eventStreams(ring));
    const client = connect(path);
    try {
      await new Promise<void>((r) => client.once("connect", () => r()));
      client.write(`${JSON.stringify({ cmd: "events", follow: true })}\n`);
      while (ring.subscribers === 0) await Bun.sleep(5);
      client.pause(); // reads nothing from now on
      const n = 20_000;
      // The same emits with no reader at all: the cost a stalled reader adds is measured against it.
      const alone = new EventRing(16);
      const tb = performance.now();
      for (let i = 0; i < n; i++) alone.emit("session.up", "f".repeat(64), { i, pad: "x".repeat(200) });
      const baseMs = performance.now() - tb;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) ring.emit("session.up", "f".repeat(64), { i, pad: "x".repeat(200) });
      const emitMs = performance.now() - t0;
      await Bun.sleep(50);
      // Now drain everything the node kept for us, then one more event.
      const chunks: Buffer[] = [];
      client.on("data", (c: Buffer) => chunks.push(c));
      client.resume();
      await Bun.sleep(300);
      ring.emit("session.down", "g", { reason: "silent" });
      await Bun.sleep(200);
      const lines = Buffer.concat(chunks)
        .toString()
        .split("\n")
        .filter((l) => l)
        .map((l) => JSON.parse(l) as NodeEvent & { ok?: boolean });
      const delivered = lines.filter((l) => l.type === "session.up").length;
      const notice = lines.find((l) => l.type === "events.dropped");
      const bytes = Buffer.concat(chunks).length;
      console.log(
        `slow follower: ${n} events emitted in ${emitMs.toFixed(1)} ms (${baseMs.toFixed(1)} ms with no reader), ${delivered} delivered (${bytes} bytes), ` +
          `${notice?.detail.dropped} dropped and reported`,
      );
      expect(lines[0]).toMatchObject({ ok: true, stream: true });
      expect(notice).toBeDefined();
      expect(delivered + Number(notice!.detail.dropped)).toBe(n);
      expect(lines.at(-1)!.type).toBe("session.down");
      // The bound: the kernel socket buffer plus the follower's own buffer, not the 5+ MB emitted.
      expect(bytes).toBeLessThan(FOLLOWER_MAX_PENDING_BYTES + 4 * 1024 * 1024);
      // The loop finished while the reader read nothing (a blocking write would never return); the
      // encoding and dropping it adds is a small multiple of emitting alone (machine load varies).
      expect(emitMs).toBeLessThan(Math.max(5 * baseMs, 500));
    } finally {
      client.destroy();
      server.stop();
    }
  });
});
