/**
 * Path cells over the node's link sessions. The native data plane owns each link's transport
 * counter (type 4), so cells (type 5) must not be sealed with the link keys: that would reuse
 * nonces. Each link gets a second, JavaScript `Session` whose keys are derived from the link's:
 *
 *   cellSend = HKDF-SHA-256(ikm = link sendKey, info = CELL_KEY_LABEL)
 *   cellRecv = HKDF-SHA-256(ikm = link recvKey, info = CELL_KEY_LABEL)
 *
 * One side's sendKey is the other's recvKey, so both ends derive matching keys, with the same
 * receiver indices as the link (the native plane hands every non-transport datagram to the main
 * thread, which finds the link by receiver index). A link rekey installs new cell keys too.
 *
 * With the native data plane (`dataplane` option) the RX loop owns OPENING every cell (its replay
 * windows are the only ones for the cell receive keys): cells arrive here already opened, marked
 * with CELL_OPENED_MARK in header byte 1, and this class only seals (type 5, its own counter).
 * DATA/KEEPALIVE cells of paths that merely traverse the node never come here: the RX loop relays
 * them itself as type 7 with the link's relay keys (dataplane/cell-keys.ts, native/relay.c). Since
 * the receive side is not JavaScript's, new cell keys are used for sending at once, as the native
 * transport does with link keys. Without the option, this class opens type-5 cells itself.
 *
 * Link probes: a KEEPALIVE cell with path id 0 (never allocated, see path/table.ts) is a probe of
 * the link itself: flags 0 asks, 1 echoes; the 8-byte token comes back unchanged.
 */
import type { AeadBackend } from "../../../anchor/aead/aead.ts";
import { MsgType } from "../../../anchor/message-type.ts";
import { CELL_HEADER_SIZE, CellCmd, KEEPALIVE_BODY_SIZE } from "../../../anchor/path/cell.ts";
import type { PathLinks } from "../../../anchor/path/switch.ts";
import { NO_LINK } from "../../../anchor/path/table.ts";
import { Session } from "../../../anchor/session.ts";
import type { SessionKeys } from "../../../anchor/session-keys.ts";
import { readReceiver, TRANSPORT_HEADER_SIZE, TRANSPORT_MIN_SIZE } from "../../../anchor/transport.ts";
import type { Endpoint } from "../../../ffi/udp.ts";
import { CELL_KEY_LABEL, cellKey } from "../dataplane/cell-keys.ts";
import { CELL_OPENED_MARK } from "../dataplane/layout.ts";

export { CELL_KEY_LABEL, cellKey };

/* Specification constants */
/** Path id 0 is never allocated; a KEEPALIVE on it probes the link. */
export const LINK_PROBE_PATH_ID = 0;
const PROBE_ASK = 0;
const PROBE_ECHO = 1;

export interface CellLink {
  readonly id: number;
  readonly peerIdHex: string;
  readonly peerNodeId: Uint8Array;
  readonly session: Session;
  endpoint: Endpoint;
  /** The native data plane's peer slot of this link (-1 without a native data plane). */
  slot: number;
}

/** What CellLinks needs from a native data plane that opens cells itself (dataplane.ts). */
export interface CellDataplane {
  /** The peer slot whose live receive key has `localIndex`, or -1. */
  slotOfIndex(localIndex: number): number;
}

export interface CellLinksOptions {
  readonly selfNodeId: Uint8Array;
  readonly backend: AeadBackend;
  readonly send: (datagram: Uint8Array, to: Endpoint) => boolean;
  /** An opened cell that is not a link probe (hand it to PathService.onCell). */
  readonly onCell: (link: number, buf: Uint8Array, cellPos: number, cellLen: number, now: number) => void;
  /** The echo of a link probe sent with `token`. */
  readonly onProbeEcho: (peerIdHex: string, token: bigint, now: number) => void;
  /** The native data plane opens cells and relays traversing ones (absent: JavaScript opens). */
  readonly dataplane?: CellDataplane;
}

export class CellLinks implements PathLinks {
  readonly byPeer = new Map<string, CellLink>();
  readonly #byId = new Map<number, CellLink>();
  readonly #o: CellLinksOptions;
  #nextId = 1;
  readonly counters = {
    cellsIn: 0,
    cellsOut: 0,
    unknownReceiver: 0,
    openFailed: 0,
    sendFailed: 0,
    /** Datagrams refused for being (not) marked as opened by the data plane. */
    badMark: 0,
  };

  constructor(o: CellLinksOptions) {
    this.#o = o;
  }

  /**
   * A link session to `peerIdHex` was established or rekeyed. Returns true when this is a new link
   * (not a rekey of one already known).
   */
  up(peerIdHex: string, peerNodeId: Uint8Array, keys: SessionKeys, endpoint: Endpoint, now: number): boolean {
    let link = this.byPeer.get(peerIdHex);
    const fresh = link === undefined;
    if (!link) {
      link = {
        id: this.#nextId++,
        peerIdHex,
        peerNodeId,
        session: new Session(this.#o.backend),
        endpoint,
        slot: -1,
      };
      this.byPeer.set(peerIdHex, link);
      this.#byId.set(link.id, link);
    }
    link.endpoint = endpoint;
    const dp = this.#o.dataplane;
    if (dp) link.slot = dp.slotOfIndex(keys.localIndex);
    link.session.install({
      ...keys,
      sendKey: cellKey(keys.sendKey),
      recvKey: cellKey(keys.recvKey),
      // The data plane confirms receipt natively: send with the new keys at once.
      isInitiator: keys.isInitiator || dp !== undefined,
    });
    // The initiator confirms the new cell keys at once, so the responder may send cells.
    if (keys.isInitiator) this.probe(peerIdHex, 0n, now);
    return fresh;
  }

  /** The link session is gone; returns the link id it had (or NO_LINK). */
  down(peerIdHex: string): number {
    const link = this.byPeer.get(peerIdHex);
    if (!link) return NO_LINK;
    this.byPeer.delete(peerIdHex);
    this.#byId.delete(link.id);
    link.session.clear();
    return link.id;
  }

  setEndpoint(peerIdHex: string, endpoint: Endpoint): void {
    const link = this.byPeer.get(peerIdHex);
    if (link) link.endpoint = endpoint;
  }

  linkOf(peerIdHex: string): CellLink | undefined {
    return this.byPeer.get(peerIdHex);
  }

  /**
   * A PathCell datagram from the data-plane socket (an owned copy): sealed, or with a native data
   * plane opened by it and marked (the tag's 16 bytes still follow the cell). Never throws.
   */
  receive(datagram: Uint8Array, now: number): void {
    if (datagram.length < TRANSPORT_MIN_SIZE + CELL_HEADER_SIZE || datagram[0] !== MsgType.PathCell) return;
    const opened = this.#o.dataplane !== undefined;
    if ((datagram[1] === CELL_OPENED_MARK) !== opened) {
      this.counters.badMark++;
      return;
    }
    const receiver = readReceiver(datagram, 0);
    let link: CellLink | undefined;
    for (const l of this.byPeer.values()) {
      if (l.session.localIndexes().includes(receiver)) {
        link = l;
        break;
      }
    }
    if (!link) {
      this.counters.unknownReceiver++;
      return;
    }
    const n = opened
      ? datagram.length - TRANSPORT_MIN_SIZE
      : link.session.open(datagram, 0, datagram.length, now);
    if (n < CELL_HEADER_SIZE) {
      this.counters.openFailed++;
      return;
    }
    this.counters.cellsIn++;
    const pos = TRANSPORT_HEADER_SIZE;
    const v = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    if (v.getUint32(pos, true) === LINK_PROBE_PATH_ID) {
      if (datagram[pos + 4] !== CellCmd.Keepalive || n !== CELL_HEADER_SIZE + KEEPALIVE_BODY_SIZE) return;
      const body = pos + CELL_HEADER_SIZE;
      const token = v.getBigUint64(body + 1, true);
      if (datagram[body] === PROBE_ASK) this.#sendProbe(link, PROBE_ECHO, token, now);
      else if (datagram[body] === PROBE_ECHO && token !== 0n) this.#o.onProbeEcho(link.peerIdHex, token, now);
      return;
    }
    this.#o.onCell(link.id, datagram, pos, n, now);
  }

  /** Sends a link probe carrying `token` (0 = confirmation only, its echo is ignored). */
  probe(peerIdHex: string, token: bigint, now: number): boolean {
    const link = this.byPeer.get(peerIdHex);
    return link !== undefined && this.#sendProbe(link, PROBE_ASK, token, now);
  }

  #sendProbe(link: CellLink, flag: number, token: bigint, now: number): boolean {
    const len = CELL_HEADER_SIZE + KEEPALIVE_BODY_SIZE;
    const buf = new Uint8Array(TRANSPORT_MIN_SIZE + len);
    const pos = TRANSPORT_HEADER_SIZE;
    const v = new DataView(buf.buffer);
    v.setUint32(pos, LINK_PROBE_PATH_ID, true);
    buf[pos + 4] = CellCmd.Keepalive;
    buf[pos + CELL_HEADER_SIZE] = flag;
    v.setBigUint64(pos + CELL_HEADER_SIZE + 1, token, true);
    return this.#seal(link, buf, pos, len, now);
  }

  #seal(link: CellLink, buf: Uint8Array, cellPos: number, cellLen: number, now: number): boolean {
    const start = cellPos - TRANSPORT_HEADER_SIZE;
    const n = link.session.seal(buf, start, MsgType.PathCell, cellLen, now);
    if (n < 0 || !this.#o.send(buf.subarray(start, start + n), link.endpoint)) {
      this.counters.sendFailed++;
      return false;
    }
    this.counters.cellsOut++;
    return true;
  }

  /* ---- PathLinks ---- */

  sendCell(link: number, buf: Uint8Array, cellPos: number, cellLen: number, now: number): boolean {
    const l = this.#byId.get(link);
    return l !== undefined && this.#seal(l, buf, cellPos, cellLen, now);
  }

  /** The native data-plane slot of `link`, or -1. */
  slotOf(link: number): number {
    return this.#byId.get(link)?.slot ?? -1;
  }

  peerOf(link: number): Uint8Array | null {
    return this.#byId.get(link)?.peerNodeId ?? null;
  }

  linkTo(nodeId: Uint8Array): number {
    return this.byPeer.get(Buffer.from(nodeId).toString("hex"))?.id ?? NO_LINK;
  }

  localIsLow(link: number): boolean {
    const l = this.#byId.get(link);
    return l !== undefined && Buffer.compare(this.#o.selfNodeId, l.peerNodeId) < 0;
  }
}
