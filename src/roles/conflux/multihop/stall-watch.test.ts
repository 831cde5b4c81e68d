import { describe, expect, test } from "bun:test";
import { STALL_DEFAULT_MS, STALL_FLOOR_MS, STALL_RTT_FACTOR, StallWatch } from "./stall-watch.ts";

describe("StallWatch", () => {
  test("no outstanding ask: never stalled", () => {
    const w = new StallWatch();
    expect(w.stalled(1e9)).toBe(false);
  });

  test("default deadline until an ack RTT is known", () => {
    const w = new StallWatch();
    w.asked(1_000);
    expect(w.stalled(1_000 + STALL_DEFAULT_MS)).toBe(false);
    expect(w.stalled(1_000 + STALL_DEFAULT_MS + 1)).toBe(true);
  });

  test("an ack clears that ask and every older one (FIFO path), not newer ones", () => {
    const w = new StallWatch();
    w.asked(100);
    w.asked(200);
    w.asked(300);
    w.acked(200, 5, 205);
    expect(w.stalled(300 + STALL_FLOOR_MS + 1)).toBe(true); // the ask at 300 is still out
    w.acked(300, 5, 305);
    expect(w.stalled(10_000)).toBe(false);
  });

  test("deadline follows the minimum ack RTT, with a floor", () => {
    const w = new StallWatch();
    w.asked(0);
    w.acked(0, 400, 400);
    w.acked(0, 300, 500); // a lower sample wins
    w.acked(0, 900, 600); // a higher one does not
    expect(w.deadlineMs()).toBe(STALL_RTT_FACTOR * 300);
    const fast = new StallWatch();
    fast.asked(0);
    fast.acked(0, 1, 1);
    expect(fast.deadlineMs()).toBe(STALL_FLOOR_MS);
  });

  test("the minimum is forgotten when no sample confirmed it for a while", () => {
    const w = new StallWatch();
    w.asked(0);
    w.acked(0, 100, 100);
    w.acked(0, 500, 20_000);
    expect(w.deadlineMs()).toBe(STALL_RTT_FACTOR * 500);
  });
});
