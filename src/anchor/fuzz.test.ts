import { expect, test } from "bun:test";
import { runFuzz } from "./fuzz.ts";

// The full run is `bun run src/anchor/fuzz.ts --iterations 1000000`; the suite runs a slice of it.
test("fuzz: 60k random and mutated inputs across every handshake-plane parser", () => {
  const r = runFuzz(60_000, 7);
  expect(r.failures).toEqual([]);
  expect(r.typedErrors).toBeGreaterThan(10_000);
  expect(r.accepted).toBeGreaterThan(1000);
  expect(r.deepHandshakes).toBeGreaterThanOrEqual(50);
  expect(Object.keys(r.perTarget).length).toBe(10);
  expect(r.reassemblyBytesMax).toBeLessThanOrEqual(4 * 1024 * 1024);
  // Flat memory: after warm-up the heap may not grow by more than 8 MiB.
  expect(r.heapAfterBytes - r.heapWarmBytes).toBeLessThan(8 * 1024 * 1024);
}, 60_000);
