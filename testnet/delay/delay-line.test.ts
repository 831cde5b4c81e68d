import { expect, test } from "bun:test";
import { DelayLine } from "./delay-line.ts";

test("frames leave in order, each no earlier than its delay", async () => {
  const out: { i: number; at: number }[] = [];
  const sentAt = new Map<number, number>();
  const line = new DelayLine({ delayMs: 20, send: (f) => out.push({ i: f[0]!, at: performance.now() }) });
  for (let i = 0; i < 50; i++) {
    sentAt.set(i, performance.now());
    line.push(Uint8Array.of(i));
    if (i % 10 === 0) await Bun.sleep(2);
  }
  await Bun.sleep(80);
  expect(out.map((o) => o.i)).toEqual([...Array(50).keys()]);
  for (const o of out) {
    const held = o.at - sentAt.get(o.i)!;
    expect(held).toBeGreaterThanOrEqual(19.4);
    expect(held).toBeLessThan(60);
  }
  expect(line.sent).toBe(50);
});

test("a full line drops and counts, and close() discards the queue", async () => {
  let sent = 0;
  const line = new DelayLine({ delayMs: 10, maxFrames: 3, maxBytes: 1000, send: () => sent++ });
  expect([1, 2, 3, 4].map(() => line.push(new Uint8Array(10)))).toEqual([true, true, true, false]);
  expect(line.push(new Uint8Array(10))).toBe(false);
  expect(line.dropped).toBe(2);
  line.close();
  await Bun.sleep(30);
  expect(sent).toBe(0);
  const small = new DelayLine({ delayMs: 1, maxBytes: 100, send: () => sent++ });
  expect(small.push(new Uint8Array(101))).toBe(false);
});

test("rejects nonsensical delays", () => {
  expect(() => new DelayLine({ delayMs: -1, send: () => {} })).toThrow(RangeError);
  expect(() => new DelayLine({ delayMs: Number.NaN, send: () => {} })).toThrow(RangeError);
});
