/**
 * The native relay against reference peers, inside a fresh network namespace (spawned by
 * relay.test.ts). One data plane with two "links": upstream A and downstream B are plain UDP
 * sockets on loopback that seal/open with the node:crypto reference and the HKDF cell/relay keys.
 * Exercises the label table (install, change, remove, per-label use), relaying both ways, every
 * cell drop reason, replay and bit flips of PathCells and RelayCells, cells handed up opened, and
 * a rekey of the out link. Prints one JSON line.
 */
import { closeTun, openTun } from "../../../../ffi/tun.ts";
import { cellKey, relayKey } from "../cell-keys.ts";
import { Dataplane } from "../dataplane.ts";
import { CELL_OPENED_MARK, LABEL_LOCAL } from "../layout.ts";
import { referenceOpen, referenceSeal } from "../seal-reference.ts";

const PATH_CELL = 5;
const RELAY_CELL = 7;
const CMD_CREATE = 1;
const CMD_DATA = 6;
const CMD_KEEPALIVE = 7;

const key = (b: number) => new Uint8Array(32).fill(b);
/** Link A (slot 0): keys seen from the data plane. */
const A = { slot: 0, send: key(0xa1), recv: key(0xa2), localIndex: 0x0a0a0001, peerIndex: 0x1a1a0001 };
const B = { slot: 1, send: key(0xb1), recv: key(0xb2), localIndex: 0x0b0b0001, peerIndex: 0x1b1b0001 };
const B_SEND2 = key(0xb3);
const B_RECV2 = key(0xb4);
const PID_UP = 0x00001234; // A's id for the path on link A
const PID_DOWN = 0x80005678; // our id for it on link B

async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await Bun.sleep(5);
  }
  return true;
}

function cell(pid: number, cmd: number, body: Uint8Array): Uint8Array {
  const c = new Uint8Array(6 + body.length);
  new DataView(c.buffer).setUint32(0, pid >>> 0, true);
  c[4] = cmd;
  c.set(body, 6);
  return c;
}
const dataBody = (i: number) => {
  const b = new Uint8Array(100);
  new DataView(b.buffer).setUint32(0, i, true);
  b.fill(0x5a, 4);
  return b;
};

const tun = openTun({ name: "vrl0" });
const dp = await Dataplane.start({ tunFd: tun.fd, udpPort: 0, bindAddress: "127.0.0.1" });
const up: { slot: number; marked: boolean; type: number; cell: Uint8Array }[] = [];
dp.onControl((d) =>
  up.push({ slot: -1, marked: d[1] === CELL_OPENED_MARK, type: d[0]!, cell: d.slice(16, -16) }),
);

const inbox = { A: [] as Uint8Array[], B: [] as Uint8Array[] };
const sock = async (into: Uint8Array[]) =>
  Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: { data: (_s, b) => void into.push(new Uint8Array(b)), error: () => {} },
  });
const sa = await sock(inbox.A);
const sb = await sock(inbox.B);
for (const [p, s] of [
  [A, sa],
  [B, sb],
] as const) {
  dp.setPeer(p.slot, {
    endpoint: { ip: "127.0.0.1", port: s.port },
    sendKey: p.send,
    sendReceiverIndex: p.peerIndex,
    recvKey: p.recv,
    localIndex: p.localIndex,
  });
}
const ctr = { A5: 0n, A7: 0n, B5: 0n, B7: 0n };
/** A cell from A (type 5, its cell key) or a relayed cell from A (type 7, its relay key). */
const fromA = (c: Uint8Array, type = PATH_CELL, counter?: bigint) => {
  const k = type === PATH_CELL ? cellKey(A.recv) : relayKey(A.recv);
  const n = counter ?? (type === PATH_CELL ? ctr.A5++ : ctr.A7++);
  return referenceSeal(k, A.localIndex, n, c, type);
};
const fromB = (c: Uint8Array) => referenceSeal(cellKey(B.recv), B.localIndex, ctr.B5++, c, PATH_CELL);
const toDp = (s: typeof sa, d: Uint8Array) => s.send(d, dp.port, "127.0.0.1");
const c0 = () => dp.counters();
const delta = (before: Record<string, number>, name: string) =>
  dp.counters()[name as "rxRelayed"] - before[name]!;

// 1. No label, strict: DATA dropped and counted; CREATE (control) goes up opened.
dp.labels.setStrict(true);
let base = c0();
toDp(sa, fromA(cell(PID_UP, CMD_DATA, dataBody(0))));
toDp(sa, fromA(cell(PID_UP, CMD_CREATE, new Uint8Array(1120))));
await waitFor(() => up.length >= 1 && delta(base, "dropRxCellUnknownLabel") >= 1);
const unknownLabel = {
  dropped: delta(base, "dropRxCellUnknownLabel"),
  handedUp: up.splice(0).map((u) => ({ marked: u.marked, type: u.type, cmd: u.cell[4], len: u.cell.length })),
};

// 2. Relay label both ways: A's DATA reaches B as RelayCells with the down path id.
const installed = [
  dp.labels.set(A.slot, PID_UP, B.slot, PID_DOWN),
  dp.labels.set(B.slot, PID_DOWN, A.slot, PID_UP),
];
base = c0();
const N = 200;
for (let i = 0; i < N; i++) toDp(sa, fromA(cell(PID_UP, CMD_DATA, dataBody(i))));
toDp(sa, fromA(cell(PID_UP, CMD_KEEPALIVE, new Uint8Array(9))));
await waitFor(() => inbox.B.length >= N + 1);
const atB = inbox.B.splice(0);
const openedAtB = atB.map((d) => referenceOpen(relayKey(B.send), d, RELAY_CELL));
const relayForward = {
  received: atB.length,
  opened: openedAtB.filter((o) => o !== null).length,
  receiverOk: openedAtB.every((o) => o?.receiver === B.peerIndex),
  pidRewritten: openedAtB.every(
    (o) => o !== null && new DataView(o.plaintext.buffer).getUint32(0, true) === PID_DOWN,
  ),
  bodiesOk: openedAtB
    .slice(0, N)
    .every((o, i) => o !== null && Buffer.compare(o.plaintext.subarray(6), dataBody(i)) === 0),
  counters: openedAtB.map((o) => Number(o?.counter ?? -1n)),
  relayed: delta(base, "rxRelayed"),
  batches: delta(base, "rxRelayBatches"),
  use: dp.labels.use(A.slot, PID_UP),
  peerB: (({ sendCounter: _s, lastRxEndpoint: _e, ...rest }) => rest)(dp.peerStats(B.slot)),
  handedUp: up.length,
};
// Backwards: B's DATA reaches A with the up path id.
for (let i = 0; i < 5; i++) toDp(sb, fromB(cell(PID_DOWN, CMD_DATA, dataBody(i))));
await waitFor(() => inbox.A.length >= 5);
const openedAtA = inbox.A.splice(0).map((d) => referenceOpen(relayKey(A.send), d, RELAY_CELL));
const relayBackward = {
  opened: openedAtA.filter((o) => o !== null).length,
  pidRewritten: openedAtA.every(
    (o) => o !== null && new DataView(o.plaintext.buffer).getUint32(0, true) === PID_UP,
  ),
};

// 3. Hostile copies: a replayed PathCell, a replayed RelayCell, bit flips in each.
base = c0();
const replay5 = fromA(cell(PID_UP, CMD_DATA, dataBody(1)));
toDp(sa, replay5);
toDp(sa, replay5);
const relay7 = fromA(cell(PID_UP, CMD_DATA, dataBody(2)), RELAY_CELL);
toDp(sa, relay7);
toDp(sa, relay7);
const flip5 = fromA(cell(PID_UP, CMD_DATA, dataBody(3)));
flip5[40] = flip5[40]! ^ 0x04;
toDp(sa, flip5);
const flip7 = fromA(cell(PID_UP, CMD_DATA, dataBody(4)), RELAY_CELL);
flip7[flip7.length - 3] = flip7[flip7.length - 3]! ^ 0x80;
toDp(sa, flip7);
// A PathCell sealed with the relay key (wrong stream) does not open either.
toDp(sa, referenceSeal(relayKey(A.recv), A.localIndex, 999n, cell(PID_UP, CMD_DATA, dataBody(5)), PATH_CELL));
// A datagram claiming the "opened" mark from the wire is malformed.
const marked = fromA(cell(PID_UP, CMD_DATA, dataBody(6)));
marked[1] = CELL_OPENED_MARK;
toDp(sa, marked);
await waitFor(() => inbox.B.length >= 2 && delta(base, "dropRxBadTag") >= 3);
await Bun.sleep(50);
const hostile = {
  relayedOnce: inbox.B.splice(0).length,
  replay: delta(base, "dropRxReplay"),
  badTag: delta(base, "dropRxBadTag"),
  malformedHeader: delta(base, "dropRxMalformedHeader"),
  relayed: delta(base, "rxRelayed"),
};

// 4. A local label: the cell goes up opened and marked, nothing is relayed.
dp.labels.set(A.slot, 0x777, LABEL_LOCAL, 0);
base = c0();
toDp(sa, fromA(cell(0x777, CMD_DATA, dataBody(9))));
toDp(sa, fromA(cell(0, CMD_KEEPALIVE, new Uint8Array(9)))); // a link probe (path id 0)
await waitFor(() => up.length >= 2);
const local = {
  up: up.splice(0).map((u) => ({
    marked: u.marked,
    type: u.type,
    ok: u.cell[4] === CMD_DATA || u.cell[4] === CMD_KEEPALIVE,
  })),
  bodyOk: true,
  relayed: delta(base, "rxRelayed"),
};

// 5. A malformed cell body (DATA shorter than a transport message) is dropped after opening.
base = c0();
toDp(sa, fromA(cell(PID_UP, CMD_DATA, new Uint8Array(8))));
await waitFor(() => delta(base, "dropRxCellMalformed") >= 1);
const malformed = delta(base, "dropRxCellMalformed");

// 6. Rekey of the out link: relaying continues with the new relay key, its counter from 0.
dp.rekey(B.slot, {
  sendKey: B_SEND2,
  sendReceiverIndex: B.peerIndex + 1,
  recvKey: B_RECV2,
  localIndex: B.localIndex + 1,
});
for (let i = 0; i < 3; i++) toDp(sa, fromA(cell(PID_UP, CMD_DATA, dataBody(i))));
await waitFor(() => inbox.B.length >= 3);
const afterRekey = inbox.B.splice(0).map((d) => {
  const o = referenceOpen(relayKey(B_SEND2), d, RELAY_CELL);
  return o === null ? null : { receiver: o.receiver, counter: Number(o.counter) };
});

// 7. Label removed: DATA is unknown again; out slot gone: no out key.
const removed = dp.labels.delete(A.slot, PID_UP);
const removedAgain = dp.labels.delete(A.slot, PID_UP);
base = c0();
toDp(sa, fromA(cell(PID_UP, CMD_DATA, dataBody(0))));
await waitFor(() => delta(base, "dropRxCellUnknownLabel") >= 1);
const afterRemove = { unknown: delta(base, "dropRxCellUnknownLabel"), get: dp.labels.get(A.slot, PID_UP) };
dp.labels.set(A.slot, PID_UP, B.slot, PID_DOWN);
dp.removePeer(B.slot);
base = c0();
toDp(sa, fromA(cell(PID_UP, CMD_DATA, dataBody(0))));
await waitFor(() => delta(base, "dropRxRelayNoOutKey") >= 1);
const noOutKey = delta(base, "dropRxRelayNoOutKey");

// 8. Not strict: an unknown label goes up for the main thread to judge.
dp.labels.setStrict(false);
toDp(sa, fromA(cell(0x4444, CMD_DATA, dataBody(0))));
await waitFor(() => up.length >= 1);
const notStrict = up.splice(0).length;

// 9. Many labels: install/remove churn keeps every lookup right (backward-shift deletion).
const churn = { ok: true, size: 0 };
for (let i = 0; i < 3000; i++) dp.labels.set(A.slot, 0x10000 + i, LABEL_LOCAL, 0);
for (let i = 0; i < 3000; i += 2) dp.labels.delete(A.slot, 0x10000 + i);
for (let i = 0; i < 3000; i++) {
  const g = dp.labels.get(A.slot, 0x10000 + i);
  if ((i % 2 === 0) !== (g === null)) churn.ok = false;
}
churn.size = dp.labels.size;

const final = dp.counters();
const status = dp.status();
await dp.stop();
sa.close();
sb.close();
closeTun(tun);
console.log(
  JSON.stringify({
    unknownLabel,
    installed,
    relayForward,
    relayBackward,
    hostile,
    local,
    malformed,
    afterRekey,
    removed,
    removedAgain,
    afterRemove,
    noOutKey,
    notStrict,
    churn,
    status,
    final,
  }),
);
process.exit(0);
