/**
 * Link probes in embedded mode. TUN-mode nodes check that a link is alive with KEEPALIVE path
 * cells on path id 0 (multihop/cell-links.ts), sealed with cell keys derived from the link's keys;
 * a link whose probes go unanswered is treated as dead and routed around. An embedded node runs no
 * multi-hop router, so its plane answers those probes itself: same key derivation, same indexes,
 * its own counters (cell keys are separate keys, so no nonce is shared with transport traffic).
 */
import type { AeadBackend } from "../../../anchor/aead/aead.ts";
import { MsgType } from "../../../anchor/message-type.ts";
import { CELL_HEADER_SIZE, CellCmd, KEEPALIVE_BODY_SIZE } from "../../../anchor/path/cell.ts";
import {
  COUNTER_LIMIT,
  openTransport,
  readCounter,
  sealTransport,
  TRANSPORT_HEADER_SIZE,
} from "../../../anchor/transport.ts";
import { cellKey, LINK_PROBE_PATH_ID } from "../multihop/cell-links.ts";
import { RecvKey, SendKey } from "./peer-keys.ts";

/* Specification constants (multihop/cell-links.ts) */
const PROBE_ASK = 0;
const PROBE_ECHO = 1;
const PROBE_CELL_SIZE = CELL_HEADER_SIZE + KEEPALIVE_BODY_SIZE;

/** The cell keys of one link keypair. */
export interface CellKeys {
  send: SendKey;
  recv: RecvKey;
}

export function deriveCellKeys(
  backend: AeadBackend,
  sendKey: Uint8Array,
  receiver: number,
  recvKey: Uint8Array,
  localIndex: number,
): CellKeys {
  return {
    send: new SendKey(backend.create(cellKey(sendKey)), receiver),
    recv: new RecvKey(backend.create(cellKey(recvKey)), localIndex),
  };
}

export function destroyCellKeys(k: CellKeys | null | undefined): void {
  k?.send.ctx.destroy();
  k?.recv.ctx.destroy();
}

/**
 * If `buf` is a link probe sealed with `keys.recv`, writes its echo (sealed with `send`) into
 * `out` and returns the echo's length; 0 when it is not an authenticated probe ask.
 */
export function answerProbe(buf: Uint8Array, recv: RecvKey, send: SendKey, out: Uint8Array): number {
  const counter = readCounter(buf, 0);
  if (counter < 0 || buf.length !== TRANSPORT_HEADER_SIZE + PROBE_CELL_SIZE + 16) return 0;
  if (openTransport(recv.ctx, recv.nonce, buf, 0, buf.length, counter) !== PROBE_CELL_SIZE) return 0;
  if (!recv.replay.validate(counter, COUNTER_LIMIT)) return 0;
  const p = TRANSPORT_HEADER_SIZE;
  const pathId = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
  if (pathId !== LINK_PROBE_PATH_ID || buf[p + 4] !== CellCmd.Keepalive) return 0;
  if (buf[p + CELL_HEADER_SIZE] !== PROBE_ASK) return 0;
  out.set(buf.subarray(p, p + PROBE_CELL_SIZE), p);
  out[p + CELL_HEADER_SIZE] = PROBE_ECHO;
  const n = sealTransport(
    send.ctx,
    send.nonce,
    out,
    0,
    MsgType.PathCell,
    send.receiver,
    send.counter,
    PROBE_CELL_SIZE,
  );
  if (n > 0) send.counter++;
  return n;
}
