import { describe, expect, test } from "bun:test";
import { chooseAead } from "../../../anchor/aead/choose.ts";
import { alice, aliceCert, bob, bobCert, local, NOW_MS } from "../../../anchor/handshake.fixture.ts";
import { HandshakeInitiator, HandshakeResponder } from "../../../anchor/handshake.ts";
import type { HandshakeOutput } from "../../../anchor/handshake-types.ts";
import { MsgType } from "../../../anchor/message-type.ts";
import type { SessionKeys } from "../../../anchor/session-keys.ts";
import type { Endpoint } from "../../../ffi/udp.ts";
import { CellLinks, cellKey } from "./cell-links.ts";

function handshake(): { a: SessionKeys; b: SessionKeys } {
  const init = new HandshakeInitiator(local(alice, aliceCert), bobCert, NOW_MS);
  const resp = new HandshakeResponder(local(bob, bobCert), NOW_MS);
  let out: HandshakeOutput = init.start(NOW_MS);
  let b: SessionKeys | null = null;
  for (const d of out.kind === "send" ? out.datagrams : []) {
    const r = resp.receive(d, "x", NOW_MS);
    if (r.kind === "established") {
      b = r.keys;
      for (const x of r.datagrams) out = init.receive(x, NOW_MS);
    }
  }
  if (!b || out.kind !== "established") throw new Error("handshake failed");
  return { a: out.keys, b };
}

const EP: Endpoint = { ip: "198.18.0.1", port: 1 };

function pair() {
  const wire: { to: "a" | "b"; d: Uint8Array }[] = [];
  const echoes: bigint[] = [];
  const cells: Uint8Array[] = [];
  const mk = (self: Uint8Array, to: "a" | "b") =>
    new CellLinks({
      selfNodeId: self,
      backend: chooseAead(),
      send: (d) => {
        wire.push({ to, d: d.slice() });
        return true;
      },
      onCell: (_l, buf, pos, len) => cells.push(buf.slice(pos, pos + len)),
      onProbeEcho: (_p, token) => echoes.push(token),
    });
  const a = mk(alice.nodeId, "b");
  const b = mk(bob.nodeId, "a");
  const pump = () => {
    while (wire.length > 0) {
      const m = wire.shift()!;
      (m.to === "a" ? a : b).receive(m.d, NOW_MS + 1);
    }
  };
  return { a, b, wire, echoes, cells, pump };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("cell links", () => {
  test("both ends derive matching cell keys, distinct from the link keys", () => {
    const { a, b } = handshake();
    expect(hex(cellKey(a.sendKey))).toBe(hex(cellKey(b.recvKey)));
    expect(hex(cellKey(a.recvKey))).toBe(hex(cellKey(b.sendKey)));
    expect(hex(cellKey(a.sendKey))).not.toBe(hex(a.sendKey));
  });

  test("link probes are echoed both ways once the initiator confirmed the keys", () => {
    const { a: ka, b: kb } = handshake();
    const p = pair();
    p.b.up(hex(alice.nodeId), alice.nodeId, kb, EP, NOW_MS);
    p.a.up(hex(bob.nodeId), bob.nodeId, ka, EP, NOW_MS); // initiator: sends the confirmation
    expect(p.wire.length).toBe(1);
    expect(p.wire[0]!.d[0]).toBe(MsgType.PathCell);
    p.pump();
    expect(p.echoes).toEqual([]); // token 0 confirms only
    expect(p.b.probe(hex(alice.nodeId), 77n, NOW_MS)).toBe(true);
    expect(p.a.probe(hex(bob.nodeId), 78n, NOW_MS)).toBe(true);
    p.pump();
    expect(p.echoes.sort()).toEqual([77n, 78n]);
  });

  test("cells reach the switch; tampered and unknown datagrams are counted, not thrown", () => {
    const { a: ka, b: kb } = handshake();
    const p = pair();
    p.b.up(hex(alice.nodeId), alice.nodeId, kb, EP, NOW_MS);
    p.a.up(hex(bob.nodeId), bob.nodeId, ka, EP, NOW_MS);
    p.pump();
    const cell = new Uint8Array(16 + 10 + 16);
    cell.set([9, 0, 0, 0, 6, 0, 1, 2, 3, 4], 16);
    expect(p.a.sendCell(p.a.linkTo(bob.nodeId), cell, 16, 10, NOW_MS)).toBe(true);
    const sent = p.wire[0]!.d;
    const bad = sent.slice();
    bad[bad.length - 1]! ^= 1;
    p.b.receive(bad, NOW_MS);
    p.b.receive(new Uint8Array(3), NOW_MS);
    p.pump();
    expect(p.cells.length).toBe(1);
    expect([...p.cells[0]!]).toEqual([9, 0, 0, 0, 6, 0, 1, 2, 3, 4]);
    expect(p.b.counters.openFailed).toBe(1);
    expect(p.b.localIsLow(p.b.linkTo(alice.nodeId))).toBe(Buffer.compare(bob.nodeId, alice.nodeId) < 0);
  });
});
