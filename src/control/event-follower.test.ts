import { describe, expect, test } from "bun:test";
import { EventRing, parseEvent } from "../roles/conflux/events.ts";
import { EventFollower } from "./event-follower.ts";

/** A socket that takes `budget` bytes, then nothing until given more. */
function slowSocket() {
  const got: Uint8Array[] = [];
  let budget = 0;
  return {
    give(n: number) {
      budget += n;
    },
    write: (b: Uint8Array) => {
      const n = Math.min(b.length, budget);
      budget -= n;
      if (n > 0) got.push(b.slice(0, n));
      return n;
    },
    lines(): unknown[] {
      const text = Buffer.concat(got).toString();
      return text
        .split("\n")
        .filter((l) => l)
        .map((l) => JSON.parse(l));
    },
  };
}

describe("event follower", () => {
  test("a stalled reader: memory stays under the bound, drops are counted and then reported", () => {
    const sock = slowSocket();
    const max = 4096;
    const f = new EventFollower(sock.write, max);
    f.greet({ ok: true, stream: true });
    const ring = new EventRing(16);
    ring.subscribe((e) => f.push(e));
    for (let i = 0; i < 1000; i++) ring.emit("session.up", "a".repeat(64), { i });
    expect(f.pendingBytes).toBeLessThanOrEqual(max);
    expect(f.dropped).toBeGreaterThan(900);
    const dropped = f.dropped;
    // The reader catches up: what was buffered goes out in order.
    sock.give(1 << 20);
    f.flush();
    expect(f.pendingBytes).toBe(0);
    ring.emit("session.down", "b", { reason: "silent" });
    const [head, ...rest] = sock.lines();
    expect(head).toEqual({ ok: true, stream: true });
    const lines = rest.map((l) => parseEvent(l)!);
    const kept = lines.filter((e) => e.type === "session.up").map((e) => e.detail.i as number);
    expect(kept).toEqual(kept.map((_, k) => k)); // the first ones, contiguous, in order
    const notice = lines.at(-2)!;
    expect(notice.type).toBe("events.dropped");
    expect(notice.detail.dropped).toBe(dropped);
    expect(lines.at(-1)!.type).toBe("session.down");
    expect(kept.length + dropped).toBe(1000);
  });

  test("partial writes keep byte order across flushes", () => {
    const sock = slowSocket();
    const f = new EventFollower(sock.write, 1 << 20);
    f.greet({ ok: true, stream: true });
    const ring = new EventRing(4);
    ring.subscribe((e) => f.push(e));
    for (let i = 0; i < 50; i++) {
      sock.give(7); // a few bytes at a time
      ring.emit("path.switched", "c", { i, reason: "better ✓" });
    }
    for (let k = 0; k < 10_000 && f.pendingBytes > 0; k++) {
      sock.give(13);
      f.flush();
    }
    expect(f.dropped).toBe(0);
    expect(
      sock
        .lines()
        .slice(1)
        .map((l) => (l as { detail: { i: number } }).detail.i),
    ).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  test("events queued before the first answer go out after it, in order", () => {
    const sock = slowSocket();
    sock.give(1 << 20);
    const f = new EventFollower(sock.write, 1 << 20);
    const ring = new EventRing(4);
    ring.subscribe((e) => f.push(e));
    ring.emit("session.up", "a");
    ring.emit("session.down", "a");
    expect(sock.lines()).toEqual([]); // nothing before the answer
    f.greet({ ok: true, stream: true });
    expect(sock.lines().map((l) => (l as { type?: string }).type ?? "answer")).toEqual([
      "answer",
      "session.up",
      "session.down",
    ]);
  });

  test("a socket that is gone (write < 0 or throws) closes the follower", () => {
    const f = new EventFollower(() => -1, 1024);
    f.greet({ ok: true });
    const ring = new EventRing(2);
    ring.subscribe((e) => f.push(e));
    ring.emit("session.up", "a");
    expect(f.closed).toBe(true);
    const g = new EventFollower(() => {
      throw new Error("EPIPE");
    }, 1024);
    g.greet({ ok: true });
    expect(g.closed).toBe(true);
  });
});
