import { describe, expect, test } from "bun:test";
import { EVENT_TYPES, EventRing, MAX_SUBSCRIBERS, type NodeEvent, parseEvent } from "./events.ts";

describe("event ring", () => {
  test("keeps the newest `capacity` events in order, with increasing seq", () => {
    let t = 1000;
    const ring = new EventRing(4, () => t++);
    for (let i = 0; i < 10; i++) ring.emit("session.up", `peer${i}`, { i });
    const kept = ring.recent();
    expect(kept.map((e) => e.seq)).toEqual([7, 8, 9, 10]);
    expect(kept.map((e) => e.detail.i)).toEqual([6, 7, 8, 9]);
    expect(kept.map((e) => e.at)).toEqual([1006, 1007, 1008, 1009]);
    expect(ring.recent(2).map((e) => e.seq)).toEqual([9, 10]);
    expect(ring.recent(0)).toEqual([]);
    expect(ring.counters.emitted).toBe(10);
  });

  test("fewer events than capacity: all of them, none invented", () => {
    const ring = new EventRing(8);
    expect(ring.recent()).toEqual([]);
    ring.emit("credentials.renewed", undefined, { expiresAt: "x" });
    const [e] = ring.recent();
    expect(e?.type).toBe("credentials.renewed");
    expect("peer" in (e as object)).toBe(false);
    expect(ring.recent()).toHaveLength(1);
  });

  test("subscribers get later events until they unsubscribe; a throwing one is dropped", () => {
    const ring = new EventRing(4);
    ring.emit("peer.discovered", "a");
    const seen: NodeEvent[] = [];
    const off = ring.subscribe((e) => seen.push(e));
    ring.subscribe(() => {
      throw new Error("bad reader");
    });
    ring.emit("session.up", "a");
    ring.emit("session.down", "a", { reason: "silent" });
    expect(ring.subscribers).toBe(1);
    expect(ring.counters.subscriberErrors).toBe(1);
    off?.();
    ring.emit("session.up", "a");
    expect(seen.map((e) => e.type)).toEqual(["session.up", "session.down"]);
    expect(ring.subscribers).toBe(0);
  });

  test("subscribers are bounded", () => {
    const ring = new EventRing(4);
    const offs = Array.from({ length: MAX_SUBSCRIBERS }, () => ring.subscribe(() => {}));
    expect(offs.every((o) => o !== undefined)).toBe(true);
    expect(ring.subscribe(() => {})).toBeUndefined();
    expect(ring.counters.subscribersRefused).toBe(1);
  });

  test("parseEvent accepts what the ring emits and refuses other shapes", () => {
    const ring = new EventRing(2);
    ring.emit("session.down", "ab", { reason: "silent", n: 1, ok: true, none: null });
    const e = ring.recent()[0]!;
    expect(parseEvent(JSON.parse(JSON.stringify(e)))).toEqual(e);
    expect(parseEvent(null)).toBeUndefined();
    expect(parseEvent({ seq: 1, at: 2, type: "no.such" })).toBeUndefined();
    expect(parseEvent({ seq: "1", at: 2, type: "session.up" })).toBeUndefined();
    expect(parseEvent({ seq: 1, at: 2, type: "session.up", peer: 5 })).toBeUndefined();
    // Nested values in detail are dropped, not passed on.
    expect(
      parseEvent({ seq: 1, at: 2, type: "session.up", detail: { x: { y: 1 }, z: "k" } })?.detail,
    ).toEqual({
      z: "k",
    });
    expect(EVENT_TYPES).toContain("events.dropped");
  });
});
