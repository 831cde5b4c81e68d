import { describe, expect, test } from "bun:test";
import {
  CELL_HEADER_SIZE,
  CellCmd,
  cellBodySizeOk,
  EXTEND_BODY_SIZE,
  encodeCell,
  MAX_CELL_SIZE,
  newCell,
  parseCell,
  readPathId,
  SKIN_SIZE,
  writePathId,
} from "./cell.ts";
import { PathDrop } from "./errors.ts";

describe("path cell", () => {
  test("encode then parse round-trips header and body position", () => {
    const c = newCell();
    const body = new Uint8Array(SKIN_SIZE).fill(9);
    const buf = encodeCell(0xdeadbeef, CellCmd.Create, body, 16);
    expect(parseCell(buf, 16, CELL_HEADER_SIZE + SKIN_SIZE, c)).toBe(0);
    expect(c).toEqual({
      pathId: 0xdeadbeef,
      cmd: CellCmd.Create,
      bodyPos: 16 + CELL_HEADER_SIZE,
      bodyLen: SKIN_SIZE,
    });
    expect(Buffer.from(buf.subarray(16, 22)).toString("hex")).toBe("efbeadde0100");
    writePathId(buf, 16, 7);
    expect(readPathId(buf, 16)).toBe(7);
  });

  test("exact sizes per command; unknown commands, reserved bits, short and oversized cells refused", () => {
    const c = newCell();
    expect(cellBodySizeOk(CellCmd.Extend, EXTEND_BODY_SIZE)).toBe(true);
    expect(cellBodySizeOk(CellCmd.Extend, EXTEND_BODY_SIZE - 1)).toBe(false);
    expect(cellBodySizeOk(CellCmd.Extended, 1)).toBe(true);
    expect(cellBodySizeOk(CellCmd.Extended, 2)).toBe(false);
    expect(cellBodySizeOk(CellCmd.Data, 31)).toBe(false);
    expect(cellBodySizeOk(CellCmd.Handshake, 1201)).toBe(false);
    const ok = encodeCell(1, CellCmd.Destroy, new Uint8Array(1));
    expect(parseCell(ok, 0, ok.length, c)).toBe(0);
    expect(parseCell(ok, 0, 5, c)).toBe(PathDrop.Short);
    expect(parseCell(ok, 1, ok.length, c)).toBe(PathDrop.Short);
    for (const cmd of [0, 9, 255]) {
      const b = ok.slice();
      b[4] = cmd;
      expect(parseCell(b, 0, b.length, c)).toBe(PathDrop.BadCommand);
    }
    const r = ok.slice();
    r[5] = 1;
    expect(parseCell(r, 0, r.length, c)).toBe(PathDrop.Reserved);
    const big = encodeCell(1, CellCmd.Data, new Uint8Array(MAX_CELL_SIZE));
    expect(parseCell(big, 0, big.length, c)).toBe(PathDrop.TooLarge);
    const wrong = encodeCell(1, CellCmd.Created, new Uint8Array(15));
    expect(parseCell(wrong, 0, wrong.length, c)).toBe(PathDrop.BadLength);
  });
});
