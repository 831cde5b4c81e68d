import { describe, expect, test } from "bun:test";
import { BACKGROUND_MS, CONFIRM_PROBE_MS, DEAD_AFTER_MISSES, LinkRtt, MIN_SAMPLES } from "./link-rtt.ts";

function harness() {
  const sent: bigint[] = [];
  const events: string[] = [];
  const rtt = new LinkRtt({
    probe: (_p, token) => {
      sent.push(token);
      return true;
    },
    onDead: (p) => events.push(`dead ${p}`),
    onAlive: (p) => events.push(`alive ${p}`),
  });
  return { rtt, sent, events };
}

describe("LinkRtt", () => {
  test("answers with the windowed minimum once MIN_SAMPLES echoes are in", () => {
    const { rtt, sent } = harness();
    rtt.up("aa", 0);
    let t = 0;
    for (let i = 0; i < MIN_SAMPLES; i++) {
      rtt.tick(t);
      expect(rtt.minMs("aa", t)).toBeNaN();
      rtt.echo(sent.at(-1)!, t + (i === 3 ? 0.4 : 5));
      t += BACKGROUND_MS;
    }
    expect(rtt.minMs("aa", t)).toBeCloseTo(0.4, 5);
  });

  test("DEAD_AFTER_MISSES unanswered probes report the link dead once; an echo revives it", () => {
    const { rtt, sent, events } = harness();
    rtt.up("aa", 0);
    let t = 0;
    for (let i = 0; i < MIN_SAMPLES; i++) {
      rtt.tick(t);
      rtt.echo(sent.at(-1)!, t + 1);
      t += BACKGROUND_MS;
    }
    expect(rtt.minMs("aa", t)).toBe(1);
    for (let i = 0; i < DEAD_AFTER_MISSES + 4; i++, t += BACKGROUND_MS) rtt.tick(t);
    expect(events).toEqual(["dead aa"]);
    expect(rtt.isDead("aa")).toBe(true);
    expect(rtt.minMs("aa", t)).toBeNaN(); // a dead link answers no link probe
    rtt.tick(t);
    rtt.echo(sent.at(-1)!, t + 1);
    expect(events).toEqual(["dead aa", "alive aa"]);
    expect(rtt.isDead("aa")).toBe(false);
  });

  test("fewer misses than the threshold, then an echo: never dead", () => {
    const { rtt, sent, events } = harness();
    rtt.up("aa", 0);
    let t = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < DEAD_AFTER_MISSES; i++, t += BACKGROUND_MS) rtt.tick(t); // last probe still in flight
      rtt.echo(sent.at(-1)!, t);
    }
    expect(events).toEqual([]);
  });

  test("until its first echo a link is also probed every CONFIRM_PROBE_MS, and those probes count no misses", () => {
    const { rtt, sent, events } = harness();
    rtt.up("aa", 0);
    let t = 0;
    for (; t < BACKGROUND_MS; t += 50) rtt.tick(t);
    // one background probe at 0, then a confirmation probe every CONFIRM_PROBE_MS
    expect(sent.length).toBe(1 + Math.floor((BACKGROUND_MS - 1) / CONFIRM_PROBE_MS));
    expect(rtt.answered("aa")).toBe(false);
    // many confirmation probes time out, fewer than DEAD_AFTER_MISSES background ones: not dead
    for (; t < (DEAD_AFTER_MISSES - 1) * BACKGROUND_MS; t += 50) rtt.tick(t);
    expect(events).toEqual([]);
    rtt.echo(sent.at(-1)!, t);
    expect(rtt.answered("aa")).toBe(true);
    const n = sent.length;
    for (const end = t + BACKGROUND_MS - 100; t < end; t += 50) rtt.tick(t);
    expect(sent.length).toBe(n + 1); // the background probe only
  });

  test("a link that never answers is still reported dead after DEAD_AFTER_MISSES background probes", () => {
    const { rtt, events } = harness();
    rtt.up("aa", 0);
    for (let t = 0; t < (DEAD_AFTER_MISSES + 2) * BACKGROUND_MS; t += 50) rtt.tick(t);
    expect(events).toEqual(["dead aa"]);
    expect(rtt.answered("aa")).toBe(false);
  });
});
