import { describe, expect, test } from "bun:test";
import { bob } from "../../../anchor/handshake.fixture.ts";
import { PATH_IDLE_TIMEOUT_MS, type PathLinks, PathSwitch } from "../../../anchor/path/switch.ts";
import { NO_LINK, type PathEntry } from "../../../anchor/path/table.ts";
import { LabelTable } from "../dataplane/label-table.ts";
import { LABEL_ENTRIES_OFF, LABEL_ENTRY, LABEL_LOCAL, LE_CELLS, SHARED_SIZE } from "../dataplane/layout.ts";
import { NativeLabels } from "./native-labels.ts";

const SLOT: Record<number, number> = { 1: 10, 2: 20 }; // link id → data-plane slot

function setup() {
  const sab = new SharedArrayBuffer(SHARED_SIZE);
  const labels = new LabelTable(sab);
  const mirror = new NativeLabels(labels, (link) => SLOT[link] ?? -1);
  const sent: number[] = [];
  const links: PathLinks = {
    sendCell: (link) => {
      sent.push(link);
      return true;
    },
    peerOf: () => new Uint8Array(32),
    linkTo: () => NO_LINK,
    localIsLow: () => true,
  };
  const sw = new PathSwitch(bob, links, {
    atOrigin: () => {},
    atTerminal: () => {},
  });
  sw.table.observer = mirror;
  return { sab, labels, mirror, sw, sent };
}

function relayEntry(now: number, extendPending = false): PathEntry {
  return {
    role: "relay",
    upLink: 1,
    upPid: 0x80000011,
    downLink: NO_LINK,
    downPid: 0,
    hopKeys: null,
    extendSeq: -1,
    extendPending,
    createdAt: now,
    lastUsed: now,
    owner: undefined,
  };
}

/** What the RX loop does when it relays a cell on a label: bump the label's cell count. */
function relayCells(sab: SharedArrayBuffer, labels: LabelTable, slot: number, pid: number, n: number) {
  const u64 = new BigUint64Array(sab);
  for (let e = 0; e < 16_384; e++) {
    const at = LABEL_ENTRIES_OFF + e * LABEL_ENTRY;
    const u32 = new Uint32Array(sab, at, 2);
    if (u32[0] === slot && u32[1] === pid) {
      u64[(at + LE_CELLS) >> 3]! += BigInt(n);
      return labels.use(slot, pid);
    }
  }
  throw new Error("label not found");
}

describe("native label mirror", () => {
  test("a tail is local; a pending extension stays local; CREATED makes it a relay both ways", () => {
    const { labels, sw } = setup();
    const e = relayEntry(0);
    sw.table.add(e);
    expect(labels.get(10, e.upPid)).toEqual({ outSlot: LABEL_LOCAL, outPid: 0 });
    e.extendPending = true;
    sw.table.setDown(e, 2, 0x22);
    expect(labels.get(10, e.upPid)).toEqual({ outSlot: LABEL_LOCAL, outPid: 0 });
    expect(labels.get(20, 0x22)).toEqual({ outSlot: LABEL_LOCAL, outPid: 0 });
    e.extendPending = false;
    sw.table.changed(e);
    expect(labels.get(10, e.upPid)).toEqual({ outSlot: 20, outPid: 0x22 });
    expect(labels.get(20, 0x22)).toEqual({ outSlot: 10, outPid: e.upPid });
    expect(labels.strict).toBe(true);
    sw.table.clearDown(e);
    expect(labels.get(20, 0x22)).toBeNull();
    expect(labels.get(10, e.upPid)).toEqual({ outSlot: LABEL_LOCAL, outPid: 0 });
    sw.table.remove(e);
    expect(labels.get(10, e.upPid)).toBeNull();
    expect(labels.size).toBe(0);
  });

  test("a link without a slot turns strict mode off until its binding is gone", () => {
    const { labels, sw } = setup();
    const e = { ...relayEntry(0), upLink: 3 };
    sw.table.add(e);
    expect(labels.strict).toBe(false);
    sw.table.remove(e);
    expect(labels.strict).toBe(true);
  });

  test("cells relayed natively keep a path alive past the idle timeout; an idle one expires", () => {
    const { sab, labels, sw, sent } = setup();
    const busy = relayEntry(0);
    sw.table.add(busy);
    sw.table.setDown(busy, 2, 0x33);
    const idle = { ...relayEntry(0), upPid: 0x80000099 };
    sw.table.add(idle);
    sw.table.setDown(idle, 2, 0x44);
    let now = 0;
    for (let step = 1; step <= 4; step++) {
      now = step * (PATH_IDLE_TIMEOUT_MS / 2);
      expect(relayCells(sab, labels, 10, busy.upPid, 100)?.cells).toBe(step * 100);
      sw.poll(now);
    }
    expect(sw.table.lookup(1, busy.upPid)?.entry).toBe(busy);
    expect(busy.lastUsed).toBe(now);
    expect(sw.table.lookup(1, idle.upPid)).toBeUndefined(); // expired, DESTROY both ways
    expect(labels.get(10, idle.upPid)).toBeNull();
    expect(sent.length).toBe(2);
  });
});
