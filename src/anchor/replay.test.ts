import { describe, expect, test } from "bun:test";
import { REPLAY_WINDOW_SIZE, ReplayFilter } from "./replay.ts";

// Ported from the Linux kernel's WireGuard selftest (as carried by wireguard-go's replay_test.go),
// with the limit brought below 2^53 because counters here are JS numbers.
const LIMIT = 2 ** 52 - 2 ** 4 - 1;
const W = REPLAY_WINDOW_SIZE;
const T_LIM = W + 1;

const KERNEL_SEQUENCE: [number, boolean][] = [
  [0, true], //  1
  [1, true], //  2
  [1, false], //  3
  [9, true], //  4
  [8, true], //  5
  [7, true], //  6
  [7, false], //  7
  [T_LIM, true], //  8
  [T_LIM - 1, true], //  9
  [T_LIM - 1, false], // 10
  [T_LIM - 2, true], // 11
  [2, true], // 12
  [2, false], // 13
  [T_LIM + 16, true], // 14
  [3, false], // 15
  [T_LIM + 16, false], // 16
  [T_LIM * 4, true], // 17
  [T_LIM * 4 - (T_LIM - 1), true], // 18
  [10, false], // 19
  [T_LIM * 4 - T_LIM, false], // 20
  [T_LIM * 4 - (T_LIM + 1), false], // 21
  [T_LIM * 4 - (T_LIM - 2), true], // 22
  [T_LIM * 4 + 1 - T_LIM, false], // 23
  [0, false], // 24
  [LIMIT, false], // 25
  [LIMIT - 1, true], // 26
  [LIMIT, false], // 27
  [LIMIT - 1, false], // 28
  [LIMIT - 2, true], // 29
  [LIMIT + 1, false], // 30
  [LIMIT + 2, false], // 31
  [LIMIT - 2, false], // 32
  [LIMIT - 3, true], // 33
  [0, false], // 34
];

function run(f: ReplayFilter, seq: Iterable<[number, boolean]>): void {
  let n = 0;
  for (const [counter, ok] of seq) {
    n++;
    if (f.validate(counter, LIMIT) !== ok) throw new Error(`step ${n}: counter ${counter} expected ${ok}`);
  }
}

function* range(from: number, to: number, step = 1): Generator<[number, boolean]> {
  for (let i = from; step > 0 ? i <= to : i >= to; i += step) yield [i, true];
}

describe("replay", () => {
  test("kernel sequence", () => {
    run(new ReplayFilter(), KERNEL_SEQUENCE);
  });

  test("bulk 1: 1..W then 0", () => {
    run(new ReplayFilter(), [...range(1, W), [0, true], [0, false]]);
  });
  test("bulk 2: 2..W+1 then 1, 0 falls out", () => {
    run(new ReplayFilter(), [...range(2, W + 1), [1, true], [0, false]]);
  });
  test("bulk 3: W+1 down to 1", () => {
    run(new ReplayFilter(), range(W + 1, 1, -1));
  });
  test("bulk 4: W+2 down to 2, 0 falls out", () => {
    run(new ReplayFilter(), [...range(W + 2, 2, -1), [0, false]]);
  });
  test("bulk 5: W down to 1, then W+1, 0 falls out", () => {
    run(new ReplayFilter(), [...range(W, 1, -1), [W + 1, true], [0, false]]);
  });
  test("bulk 6: W down to 1, 0, W+1", () => {
    run(new ReplayFilter(), [...range(W, 1, -1), [0, true], [W + 1, true]]);
  });

  test("in-window reordering accepted once; beyond-window and duplicates rejected", () => {
    const f = new ReplayFilter();
    const order = [5, 1, 3, 2, 4, 100, 50, 99, 51];
    for (const c of order) expect(f.validate(c, LIMIT)).toBe(true);
    for (const c of order) expect(f.validate(c, LIMIT)).toBe(false);
    expect(f.validate(100 + W + 10, LIMIT)).toBe(true);
    expect(f.validate(9, LIMIT)).toBe(false); // far behind now
    expect(f.validate(10 + 100, LIMIT)).toBe(true); // exactly W behind: still in
    expect(f.validate(100 + W + 10 - W - 1, LIMIT)).toBe(false); // W + 1 behind: out
    expect(f.validate(-1, LIMIT)).toBe(false);
    expect(f.validate(Number.NaN, LIMIT)).toBe(false);
    f.reset();
    expect(f.last).toBe(0);
    expect(f.validate(5, LIMIT)).toBe(true);
  });

  test("a jump larger than the ring clears it completely", () => {
    const f = new ReplayFilter();
    for (let i = 0; i < 3 * W; i += 3) f.validate(i, LIMIT);
    const far = 2 ** 40;
    expect(f.validate(far, LIMIT)).toBe(true);
    for (let i = far - W; i < far; i += 7) expect(f.validate(i, LIMIT)).toBe(true);
  });
});
