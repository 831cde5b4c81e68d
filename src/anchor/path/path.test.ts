import { describe, expect, test } from "bun:test";
import { chooseAead } from "../aead/choose.ts";
import { MsgType } from "../message-type.ts";
import { CellCmd, encodeCell, SKIN_SIZE } from "./cell.ts";
import { PathDrop, PathRefusal } from "./errors.ts";
import { connect, hex, MemoryWire, maintainLinks, makeNodes, T0 } from "./mesh.fixture.ts";
import { OriginPath, PATH_DRAIN_MS, PATH_ROTATE_AFTER_MS } from "./origin.ts";
import { PATH_IDLE_TIMEOUT_MS } from "./switch.ts";

const settle = (wire: MemoryWire, now: number) => {
  while (wire.flush(now) > 0) {}
};

describe("path", () => {
  // S - A - B - D, plus S - C - D (a second route) and A - C
  const wire = new MemoryWire();
  const { nodes } = makeNodes(["S", "A", "B", "C", "D"], wire);
  const [S, A, B, C, D] = nodes as [
    (typeof nodes)[0],
    (typeof nodes)[0],
    (typeof nodes)[0],
    (typeof nodes)[0],
    (typeof nodes)[0],
  ];
  connect(S, A);
  connect(A, B);
  connect(B, D);
  connect(S, C);
  connect(C, D);
  connect(A, C);
  const allTablesEmpty = () => nodes.every((n) => n.service.sw.table.size === 0);

  test("builds S-A-B-D, carries data both ways end to end, and tears down everywhere on close", () => {
    let now = T0;
    const got: string[] = [];
    const p = S.service.build(
      [A.hop(), B.hop(), D.hop()],
      { onData: (_p, d) => got.push(Buffer.from(d).toString()) },
      now,
    );
    settle(wire, now);
    expect(p.state).toBe("ready");
    expect(p.reached).toBe(3);
    for (let i = 0; i < 20; i++) expect(p.send(new TextEncoder().encode(`hello ${i}`), now)).toBe(true);
    settle(wire, now);
    expect(D.delivered.map((x) => Buffer.from(x.data).toString())).toEqual(
      Array.from({ length: 20 }, (_, i) => `hello ${i}`),
    );
    expect(hex(D.delivered[0]!.from)).toBe(hex(S.nodeId)); // the destination knows the source by its handshake
    const t = D.delivered[0]!.path;
    expect(t.send(new TextEncoder().encode("pong"), now)).toBe(true);
    settle(wire, now);
    expect(got).toEqual(["pong"]);
    // every relay holds exactly one entry with two sides, on links to its neighbours only
    for (const r of [A, B]) {
      const entries = [...r.service.sw.table.entries()];
      expect(entries.length).toBe(1);
      expect(entries[0]!.role).toBe("relay");
      expect(r.links.has(entries[0]!.upLink) && r.links.has(entries[0]!.downLink)).toBe(true);
    }
    now += 1000;
    p.close(now);
    settle(wire, now);
    expect(p.state).toBe("closed");
    expect(allTablesEmpty()).toBe(true);
    D.delivered.length = 0;
  });

  test("a one-hop path is direct: the link session alone, one layer of encryption", () => {
    const now = T0;
    const p = S.service.build([A.hop()], {}, now);
    expect(p.kind).toBe("direct");
    wire.log.length = 0;
    const packet = new Uint8Array(100).fill(7);
    expect(p.send(packet, now)).toBe(true);
    expect(wire.log.length).toBe(1);
    expect(wire.log[0]!.bytes[0]).toBe(MsgType.Transport);
    expect(wire.log[0]!.bytes.length).toBe(100 + 32);
    settle(wire, now);
    expect(A.direct.at(-1)).toEqual(packet);
    expect(S.service.sw.table.size).toBe(0);
  });

  test("the builder refuses loops, repeats, itself, too many hops and non-neighbour first hops", () => {
    const now = T0;
    expect(() => S.service.build([A.hop(), B.hop(), A.hop()], {}, now)).toThrow("twice");
    expect(() => S.service.build([A.hop(), S.hop()], {}, now)).toThrow("twice");
    expect(() => S.service.build([], {}, now)).toThrow();
    expect(() =>
      S.service.build(
        Array.from({ length: 9 }, () => A.hop()),
        {},
        now,
      ),
    ).toThrow("at most 8");
    expect(() => S.service.build([B.hop(), D.hop()], {}, now)).toThrow("neighbour");
  });

  test("a hop refuses to extend back to the node the path came from, or to a non-neighbour", () => {
    let now = T0;
    const deps = {
      sw: S.service.sw,
      backend: chooseAead(),
      e2e: {
        initiate: () => {
          throw new Error("unused");
        },
        respond: () => ({ send: [], keys: null, failed: false }),
      },
      sendDirect: () => false,
    };
    const back = new OriginPath([A.hop(), S.hop()], S.linkTo(A.nodeId), deps, {}, now);
    settle(wire, now);
    expect(back.state).toBe("failed");
    expect(back.closeReason).toBe(PathRefusal.Loop);
    const far = new OriginPath([A.hop(), D.hop()], S.linkTo(A.nodeId), deps, {}, now);
    settle(wire, now);
    expect(far.state).toBe("failed");
    expect(far.closeReason).toBe(PathRefusal.NoLink);
    now += 10;
    settle(wire, now);
    expect(allTablesEmpty()).toBe(true);
  });

  test("a hop refuses a CREATE for a path id it already holds and one from the wrong id half", () => {
    const now = T0;
    const p = S.service.build([A.hop(), B.hop()], {}, now);
    settle(wire, now);
    const entry = p.entry!;
    const dup = encodeCell(entry.downPid, CellCmd.Create, new Uint8Array(SKIN_SIZE), 16);
    const before = A.service.sw.drops[PathDrop.DuplicatePath]!;
    A.service.onCell(A.linkTo(S.nodeId), dup, 16, dup.length - 32, now);
    expect(A.service.sw.drops[PathDrop.DuplicatePath]).toBe(before + 1);
    // an id from A's own half of the S-A link cannot be S's
    const ownHalf = A.localIsLow(A.linkTo(S.nodeId)) ? 0x12345 : 0x80012345;
    const wrong = encodeCell(ownHalf, CellCmd.Create, new Uint8Array(SKIN_SIZE), 16);
    A.service.onCell(A.linkTo(S.nodeId), wrong, 16, wrong.length - 32, now);
    expect(A.service.sw.drops[PathDrop.BadNamespace]).toBeGreaterThan(0);
    p.close(now);
    settle(wire, now);
    expect(allTablesEmpty()).toBe(true);
  });

  test("idle paths expire at the relays and the origin learns it", () => {
    let now = T0;
    let reason = -1;
    const p = S.service.build([C.hop(), D.hop()], { onClosed: (_p, r) => (reason = r) }, now);
    settle(wire, now);
    expect(p.state).toBe("ready");
    now += PATH_IDLE_TIMEOUT_MS;
    C.service.sw.poll(now); // only the relay's timer runs: the origin stayed silent
    settle(wire, now);
    expect(p.state).toBe("closed");
    expect(reason).toBe(PathRefusal.Expired);
    expect(allTablesEmpty()).toBe(true);
  });

  test("make-before-break rotation under continuous traffic loses nothing", () => {
    let now = T0;
    const routes = [
      [A.hop(), B.hop(), D.hop()],
      [C.hop(), D.hop()],
    ];
    let active = S.service.build(routes[0]!, {}, now);
    let pending: ReturnType<typeof S.service.build> | null = null;
    let retiring: { path: typeof active; at: number } | null = null;
    let seq = 0;
    let rotations = 0;
    let linkRekeys = 0;
    D.delivered.length = 0;
    for (let step = 0; step < 2 * 60 * 20; step++) {
      now += 500;
      if (active.rotateDue(now) && pending === null)
        pending = S.service.build(routes[(rotations + 1) % 2]!, {}, now);
      if (pending !== null && pending.state === "ready") {
        retiring = { path: active, at: now + PATH_DRAIN_MS };
        active = pending;
        pending = null;
        rotations++;
      }
      if (retiring !== null && now >= retiring.at) {
        retiring.path.close(now);
        retiring = null;
      }
      if (active.state === "ready") {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setUint32(0, seq, true);
        expect(active.send(b, now)).toBe(true);
        seq++;
      }
      linkRekeys += maintainLinks(nodes, now);
      for (const n of nodes) n.service.poll(now);
      settle(wire, now);
    }
    expect(linkRekeys).toBeGreaterThan(0);
    expect(rotations).toBeGreaterThanOrEqual(2);
    expect(now - T0).toBeGreaterThan(2 * PATH_ROTATE_AFTER_MS);
    const seqs = D.delivered.map((x) => new DataView(x.data.buffer, x.data.byteOffset).getUint32(0, true));
    expect(seqs.length).toBe(seq);
    expect(new Set(seqs).size).toBe(seq);
    active.close(now);
    settle(wire, now);
    expect(allTablesEmpty()).toBe(true);
  }, 30_000);
});
