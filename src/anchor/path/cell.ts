/**
 * Path cells: the plaintext of a link-session transport message of type MsgType.PathCell, so every
 * cell is authenticated and encrypted hop by hop by the link session, and counted in the same
 * counter space as the link's IP traffic.
 *
 *   0                   4       5          6
 *   | path id u32 LE    | cmd   | rsv (=0) | body …                                  |
 *
 * The path id is local to one link (each hop rewrites it: label switching); no field is global.
 * Body sizes per command are exact (cellBodySizeOk) except HANDSHAKE and DATA, which are bounded.
 *
 *   CREATE    skin(1120) = ephemeral X25519 (32) || ML-KEM-768 ciphertext (1088), to the new hop
 *   CREATED   confirm(16): proof the hop derived the hop keys
 *   EXTEND    seq u32 LE || AEAD_fwd(next node id (32) || skin (1120)) — readable by the tail only
 *   EXTENDED  status u8 || confirm(16) when status = 0 (the new hop's CREATED confirm, relayed)
 *   HANDSHAKE one end-to-end handshake datagram (≤ MAX_HANDSHAKE_DATAGRAM)
 *   DATA      one end-to-end transport message (transport.ts layout, ≥ 32 bytes)
 *   KEEPALIVE flags u8 (0 probe, 1 echo) || token u64 LE
 *   DESTROY   reason u8 (PathRefusal)
 */
import { PathDrop } from "./errors.ts";

/* Specification constants */
export const CELL_HEADER_SIZE = 6;
export const OFF_PATH_ID = 0;
export const OFF_CMD = 4;
export const OFF_CELL_RESERVED = 5;

export const CellCmd = {
  Create: 1,
  Created: 2,
  Extend: 3,
  Extended: 4,
  Handshake: 5,
  Data: 6,
  Keepalive: 7,
  Destroy: 8,
} as const;
export type CellCmd = (typeof CellCmd)[keyof typeof CellCmd];

export const NODE_ID_SIZE = 32;
export const SKIN_SIZE = 32 + 1088;
export const CONFIRM_SIZE = 16;
export const HOP_TAG_SIZE = 16;
export const EXTEND_PLAIN_SIZE = NODE_ID_SIZE + SKIN_SIZE;
export const EXTEND_BODY_SIZE = 4 + EXTEND_PLAIN_SIZE + HOP_TAG_SIZE;
export const EXTENDED_OK_SIZE = 1 + CONFIRM_SIZE;
export const EXTENDED_REFUSED_SIZE = 1;
export const KEEPALIVE_BODY_SIZE = 9;
export const DESTROY_BODY_SIZE = 1;
/** Handshake datagrams are fragmented to ≤ 1200 bytes by the handshake itself. */
export const MAX_HANDSHAKE_DATAGRAM = 1200;
/** Largest cell: a 1500-byte underlay minus IPv4+UDP (28) minus link transport overhead (32). */
export const MAX_CELL_SIZE = 1500 - 28 - 32;
export const MAX_CELL_BODY = MAX_CELL_SIZE - CELL_HEADER_SIZE;
/** The smallest end-to-end transport message (header + tag). */
export const MIN_DATA_BODY = 32;

/** A parsed cell header, reused across cells. Body is `buf[bodyPos, bodyPos+bodyLen)`. */
export interface Cell {
  pathId: number;
  cmd: number;
  bodyPos: number;
  bodyLen: number;
}

export function newCell(): Cell {
  return { pathId: 0, cmd: 0, bodyPos: 0, bodyLen: 0 };
}

export function cellBodySizeOk(cmd: number, len: number): boolean {
  switch (cmd) {
    case CellCmd.Create:
      return len === SKIN_SIZE;
    case CellCmd.Created:
      return len === CONFIRM_SIZE;
    case CellCmd.Extend:
      return len === EXTEND_BODY_SIZE;
    case CellCmd.Extended:
      return len === EXTENDED_OK_SIZE || len === EXTENDED_REFUSED_SIZE;
    case CellCmd.Handshake:
      return len > 0 && len <= MAX_HANDSHAKE_DATAGRAM;
    case CellCmd.Data:
      return len >= MIN_DATA_BODY && len <= MAX_CELL_BODY;
    case CellCmd.Keepalive:
      return len === KEEPALIVE_BODY_SIZE;
    case CellCmd.Destroy:
      return len === DESTROY_BODY_SIZE;
    default:
      return false;
  }
}

/** Parses `buf[pos, pos+len)` into `out`. Returns 0 or a PathDrop reason; never throws. */
export function parseCell(buf: Uint8Array, pos: number, len: number, out: Cell): number {
  if (pos < 0 || len < CELL_HEADER_SIZE || pos + len > buf.length) return PathDrop.Short;
  if (len > MAX_CELL_SIZE) return PathDrop.TooLarge;
  const cmd = buf[pos + OFF_CMD]!;
  if (cmd < CellCmd.Create || cmd > CellCmd.Destroy) return PathDrop.BadCommand;
  if (buf[pos + OFF_CELL_RESERVED] !== 0) return PathDrop.Reserved;
  const bodyLen = len - CELL_HEADER_SIZE;
  if (!cellBodySizeOk(cmd, bodyLen)) return PathDrop.BadLength;
  out.pathId = readPathId(buf, pos);
  out.cmd = cmd;
  out.bodyPos = pos + CELL_HEADER_SIZE;
  out.bodyLen = bodyLen;
  return 0;
}

export function readPathId(buf: Uint8Array, pos: number): number {
  return (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16)) + buf[pos + 3]! * 0x1000000;
}

/** Rewrites the path id in place (label switching). */
export function writePathId(buf: Uint8Array, pos: number, pathId: number): void {
  buf[pos] = pathId & 0xff;
  buf[pos + 1] = (pathId >>> 8) & 0xff;
  buf[pos + 2] = (pathId >>> 16) & 0xff;
  buf[pos + 3] = (pathId >>> 24) & 0xff;
}

/** A fresh cell (control plane: allocates). `room` bytes are left free in front for the link header. */
export function encodeCell(pathId: number, cmd: CellCmd, body: Uint8Array, room = 0): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(room + CELL_HEADER_SIZE + body.length + room));
  writePathId(out, room, pathId);
  out[room + OFF_CMD] = cmd;
  out[room + OFF_CELL_RESERVED] = 0;
  out.set(body, room + CELL_HEADER_SIZE);
  return out;
}
