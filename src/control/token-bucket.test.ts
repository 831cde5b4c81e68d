import { describe, expect, it } from "bun:test";
import { ReplayGuard } from "./replay-guard.ts";
import { TokenBucket } from "./token-bucket.ts";

describe("token bucket", () => {
  it("allows the burst, then the steady rate", () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.waitMs(0)).toBeCloseTo(100, 5);
    expect(b.take(99)).toBe(false);
    expect(b.take(100)).toBe(true);
    let granted = 0;
    for (let t = 100; t <= 10_100; t += 10) if (b.take(t)) granted++;
    expect(granted).toBeGreaterThanOrEqual(99); // 10/s for 10 s (float refill)
    expect(granted).toBeLessThanOrEqual(100);
  });
});

describe("replay guard", () => {
  it("remembers a nonce until it expires and refuses when full", () => {
    const g = new ReplayGuard(2);
    expect(g.check("a", 100, 0)).toBe("fresh");
    expect(g.check("a", 100, 50)).toBe("replayed");
    expect(g.check("b", 100, 50)).toBe("fresh");
    expect(g.check("c", 100, 60)).toBe("full");
    expect(g.check("c", 300, 2000)).toBe("fresh"); // a and b expired and were pruned
  });
});
