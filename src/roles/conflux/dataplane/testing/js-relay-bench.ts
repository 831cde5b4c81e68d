/**
 * The JavaScript relay's CPU cost per cell, for comparison with the native relay
 * (relay-bench.fixture.ts): a relay node's CellLinks (opening cells itself) and PathSwitch with one
 * relay entry, fed PathCells sealed by the upstream neighbour's CellLinks. The downstream send is a
 * no-op, so this is open + label switch + seal only (the control ring and the sendto per cell that
 * a real JS relay also pays are not counted). Usage: bun js-relay-bench.ts [cells]. One JSON line.
 */
import { chooseAead } from "../../../../anchor/aead/choose.ts";
import { alice, aliceCert, bob, bobCert, local, NOW_MS } from "../../../../anchor/handshake.fixture.ts";
import { HandshakeInitiator, HandshakeResponder } from "../../../../anchor/handshake.ts";
import type { HandshakeOutput } from "../../../../anchor/handshake-types.ts";
import { CELL_HEADER_SIZE, CellCmd } from "../../../../anchor/path/cell.ts";
import { LINK_ROOM, PathSwitch } from "../../../../anchor/path/switch.ts";
import type { SessionKeys } from "../../../../anchor/session-keys.ts";
import { CellLinks } from "../../multihop/cell-links.ts";

const CELLS = Number(process.argv[2] ?? 100_000);
const CELL_BYTES = 1400;

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

const ep = { ip: "198.18.0.1", port: 1 };
const up = handshake();
const down = handshake();
const wire: Uint8Array[] = [];
const x = new CellLinks({
  selfNodeId: alice.nodeId,
  backend: chooseAead(),
  send: (d) => {
    wire.push(d.slice());
    return true;
  },
  onCell: () => {},
  onProbeEcho: () => {},
});
let sent = 0;
let sw: PathSwitch;
const r = new CellLinks({
  selfNodeId: bob.nodeId,
  backend: chooseAead(),
  send: () => {
    sent++;
    return true;
  },
  onCell: (l, buf, pos, len, now) => sw.onCell(l, buf, pos, len, now),
  onProbeEcho: () => {},
});
const carol = new Uint8Array(32).fill(0xcc);
x.up(Buffer.from(bob.nodeId).toString("hex"), bob.nodeId, up.a, ep, NOW_MS);
r.up(Buffer.from(alice.nodeId).toString("hex"), alice.nodeId, up.b, ep, NOW_MS);
r.up(Buffer.from(carol).toString("hex"), carol, down.a, ep, NOW_MS); // initiator keys: may send at once
sw = new PathSwitch(bob, r, { atOrigin: () => {}, atTerminal: () => {} });
const upLink = r.linkTo(alice.nodeId);
const downLink = r.linkTo(carol);
sw.table.add({
  role: "relay",
  upLink,
  upPid: 0x1234,
  downLink,
  downPid: 0x80005678,
  hopKeys: null,
  extendSeq: -1,
  extendPending: false,
  createdAt: NOW_MS,
  lastUsed: NOW_MS,
  owner: undefined,
});
const xLink = x.linkTo(bob.nodeId);
wire.length = 0;
const cell = new Uint8Array(LINK_ROOM + CELL_BYTES + LINK_ROOM);
for (let i = 0; i < CELLS; i++) {
  cell.fill(0); // sealing is in place: start every cell from clear bytes
  new DataView(cell.buffer).setUint32(LINK_ROOM, 0x1234, true);
  cell[LINK_ROOM + 4] = CellCmd.Data;
  x.sendCell(xLink, cell, LINK_ROOM, CELL_BYTES, NOW_MS + 1);
}
const datagrams = wire.splice(0).filter((d) => d.length > CELL_HEADER_SIZE + 32);
const t0 = performance.now();
for (const d of datagrams) r.receive(d, NOW_MS + 2);
const ms = performance.now() - t0;
console.log(
  JSON.stringify({
    cells: datagrams.length,
    links: r.counters,
    drops: [...sw.drops].map((v, i) => [i, v] as const).filter(([, v]) => v > 0),
    forwarded: sw.forwarded,
    sent,
    ms: Math.round(ms),
    usPerCell: Number(((ms * 1000) / datagrams.length).toFixed(2)),
    cellsPerSecOneCore: Math.round(datagrams.length / (ms / 1000)),
  }),
);
