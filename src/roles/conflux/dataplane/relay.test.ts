/**
 * The native relay and its label table, against reference peers on loopback inside a fresh
 * network namespace (testing/relay.fixture.ts drives the traffic and reports JSON).
 */
import { beforeAll, describe, expect, it } from "bun:test";
import { BUN, createNamespaces, isRoot, runPrefix, sh } from "../../../ffi/testing/netns.ts";

describe("native path-cell relay (netns)", () => {
  // biome-ignore lint/suspicious/noExplicitAny: the fixture's JSON report, checked field by field
  let r: Record<string, any>;

  beforeAll(() => {
    expect(isRoot()).toBe(true);
    const ns = runPrefix("vrl");
    const cleanup = createNamespaces([ns]);
    try {
      sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
      const fixture = new URL("./testing/relay.fixture.ts", import.meta.url).pathname;
      const out = sh(["timeout", "60", "ip", "netns", "exec", ns, BUN, fixture]);
      r = JSON.parse(out.trim().split("\n").pop()!);
    } finally {
      cleanup();
    }
  }, 70_000);

  it("drops DATA on an unknown label (counted) and hands control cells up opened", () => {
    expect(r.unknownLabel.dropped).toBe(1);
    expect(r.unknownLabel.handedUp).toEqual([{ marked: true, type: 5, cmd: 1, len: 1126 }]);
  });

  it("relays DATA and KEEPALIVE natively: path id rewritten, re-sealed as RelayCells, in batches", () => {
    const f = r.relayForward;
    expect(r.installed).toEqual([true, true]);
    expect(f.received).toBe(201);
    expect(f.opened).toBe(201);
    expect(f.receiverOk).toBe(true);
    expect(f.pidRewritten).toBe(true);
    expect(f.bodiesOk).toBe(true);
    // one relay key, one sealer: counters 0, 1, 2, … without a gap or a repeat
    expect(f.counters).toEqual(Array.from({ length: 201 }, (_, i) => i));
    expect(f.relayed).toBe(201);
    expect(f.batches).toBeLessThanOrEqual(201);
    expect(f.use).toEqual({ cells: 201, bytes: f.peerB.relayBytes });
    expect(f.peerB.relayPackets).toBe(201);
    expect(f.peerB.relayCounter).toBe(201);
    expect(f.handedUp).toBe(0); // nothing reached the main thread
    expect(r.relayBackward).toEqual({ opened: 5, pidRewritten: true });
  });

  it("rejects replayed and bit-flipped PathCells and RelayCells, and a forged opened mark", () => {
    expect(r.hostile.relayedOnce).toBe(2);
    expect(r.hostile.replay).toBe(2);
    expect(r.hostile.badTag).toBe(3);
    expect(r.hostile.malformedHeader).toBe(1);
    expect(r.hostile.relayed).toBe(2);
  });

  it("hands cells of local labels and link probes up, opened and marked", () => {
    expect(r.local.up).toEqual([
      { marked: true, type: 5, ok: true },
      { marked: true, type: 5, ok: true },
    ]);
    expect(r.local.relayed).toBe(0);
    expect(r.malformed).toBe(1);
  });

  it("follows a rekey of the out link with a fresh relay key whose counter starts at 0", () => {
    expect(r.afterRekey).toEqual([0, 1, 2].map((counter) => ({ receiver: 0x1b1b0002, counter })));
  });

  it("removes labels, counts no-out-key drops, and hands unknown labels up when not strict", () => {
    expect(r.removed).toBe(true);
    expect(r.removedAgain).toBe(false);
    expect(r.afterRemove).toEqual({ unknown: 1, get: null });
    expect(r.noOutKey).toBe(1);
    expect(r.notStrict).toBe(1);
    expect(r.churn).toEqual({ ok: true, size: 1503 });
    expect(r.status).toEqual({ tx: "running", rx: "running", txErrno: 0, rxErrno: 0 });
    expect(r.final.rxRecvErrors).toBe(0);
    expect(r.final.dropRxRelaySendError).toBe(0);
  });
});
