/**
 * The per-node path switch: label-switches cells between link sessions, answers CREATE, acts on
 * EXTEND when it is the path's tail, relays CREATED back as EXTENDED, and hands cells of paths that
 * start or end here to the local endpoints. It sees link ids and per-link path ids only; the
 * route beyond its neighbours never reaches it in clear (EXTEND bodies for later hops are sealed to
 * those hops), and DATA is end-to-end ciphertext.
 *
 * Forwarding is in place: a received cell sits at `cellPos` inside the link message buffer with the
 * link header's 16 bytes before it and the link tag's 16 bytes after it; the switch rewrites the path
 * id and the next link seals the same bytes. Control replies are built fresh (rare).
 */
import type { Identity } from "../identity.ts";
import {
  CELL_HEADER_SIZE,
  type Cell,
  CellCmd,
  CONFIRM_SIZE,
  DESTROY_BODY_SIZE,
  EXTEND_PLAIN_SIZE,
  EXTENDED_OK_SIZE,
  encodeCell,
  KEEPALIVE_BODY_SIZE,
  NODE_ID_SIZE,
  newCell,
  parseCell,
  writePathId,
} from "./cell.ts";
import { PathDrop, PathRefusal } from "./errors.ts";
import { acceptSkin, confirmTag, openExtend } from "./hop-key.ts";
import { NO_LINK, type PathEntry, PathTable, Side } from "./table.ts";

/* Specification constants */
/** A hop drops a path that carried no cell for this long (keepalives keep live paths). */
export const PATH_IDLE_TIMEOUT_MS = 60_000;
/** A hop drops any path after this long, whatever the origin does (rotation is mandatory). */
export const PATH_MAX_LIFETIME_MS = 15 * 60_000;
/** Room the link layer needs around a cell: its header before, its tag after. */
export const LINK_ROOM = 16;

/** What the switch needs from the link layer (authenticated sessions to neighbours). */
export interface PathLinks {
  /**
   * Seals and sends the cell at `buf[cellPos, cellPos+cellLen)` over `link` as a PathCell transport
   * message, in place: LINK_ROOM bytes before `cellPos` and after the cell are free. Borrowed:
   * `buf` may be reused once this returns. False when the link cannot send now.
   */
  sendCell(link: number, buf: Uint8Array, cellPos: number, cellLen: number, now: number): boolean;
  /** The neighbour's node id on `link`, or null. */
  peerOf(link: number): Uint8Array | null;
  /** The link to neighbour `nodeId`, or NO_LINK. */
  linkTo(nodeId: Uint8Array): number;
  /** True when our node id sorts below the neighbour's (picks our half of the path id space). */
  localIsLow(link: number): boolean;
}

/** Local consumers of cells: paths this node started, and paths that end here. */
export interface PathEndpoints {
  /** A backward cell at the origin (CREATED, EXTENDED, HANDSHAKE, DATA, KEEPALIVE, DESTROY). Borrowed body. */
  atOrigin(entry: PathEntry, cmd: number, body: Uint8Array, now: number): void;
  /** A forward cell at the tail (HANDSHAKE, DATA, KEEPALIVE, DESTROY). Borrowed body. */
  atTerminal(entry: PathEntry, cmd: number, body: Uint8Array, now: number): void;
}

export interface PathSwitchOptions {
  /** Observes every cell this node receives, after link decryption (tests, diagnostics). */
  tap?: (link: number, cell: Uint8Array) => void;
}

export class PathSwitch {
  readonly table = new PathTable();
  readonly drops = new Float64Array(16);
  /** Cells this switch forwarded (in JavaScript), and by command (index = CellCmd). */
  forwarded = 0;
  readonly forwardedByCmd = new Float64Array(CellCmd.Destroy + 1);
  readonly #identity: Identity;
  readonly #links: PathLinks;
  readonly #endpoints: PathEndpoints;
  readonly #tap: ((link: number, cell: Uint8Array) => void) | undefined;
  readonly #cell: Cell = newCell();

  constructor(
    identity: Identity,
    links: PathLinks,
    endpoints: PathEndpoints,
    options: PathSwitchOptions = {},
  ) {
    this.#identity = identity;
    this.#links = links;
    this.#endpoints = endpoints;
    this.#tap = options.tap;
  }

  /**
   * Handles one decrypted cell from `link` at `buf[cellPos, cellPos+cellLen)` (LINK_ROOM free on
   * both sides). Returns 0 or a PathDrop reason. Never throws on hostile input.
   */
  onCell(link: number, buf: Uint8Array, cellPos: number, cellLen: number, now: number): number {
    this.#tap?.(link, buf.slice(cellPos, cellPos + cellLen));
    const c = this.#cell;
    const bad = parseCell(buf, cellPos, cellLen, c);
    if (bad !== 0) return this.#drop(bad);
    const hit = this.table.lookup(link, c.pathId);
    if (hit === undefined) {
      if (c.cmd === CellCmd.Create) return this.#onCreate(link, c, buf, now);
      return this.#drop(PathDrop.UnknownPath);
    }
    const { entry, side } = hit;
    entry.lastUsed = now;
    const body = buf.subarray(c.bodyPos, c.bodyPos + c.bodyLen);
    if (side === Side.Up) {
      // forward direction: from the origin's side
      if (c.cmd === CellCmd.Create) return this.#drop(PathDrop.DuplicatePath);
      if (entry.downLink !== NO_LINK && !entry.extendPending) {
        if (c.cmd === CellCmd.Created || c.cmd === CellCmd.Extended) return this.#drop(PathDrop.Unexpected);
        this.#forward(buf, cellPos, cellLen, entry.downLink, entry.downPid, now);
        if (c.cmd === CellCmd.Destroy) this.table.remove(entry);
        return 0;
      }
      switch (c.cmd) {
        case CellCmd.Extend:
          return this.#onExtend(entry, body, now);
        case CellCmd.Handshake:
        case CellCmd.Data:
        case CellCmd.Keepalive:
          this.#endpoints.atTerminal(entry, c.cmd, body, now);
          return 0;
        case CellCmd.Destroy:
          if (entry.downLink !== NO_LINK) this.#sendDown(entry, CellCmd.Destroy, body, now);
          this.table.remove(entry);
          this.#endpoints.atTerminal(entry, c.cmd, body, now);
          return 0;
        default:
          return this.#drop(PathDrop.Unexpected);
      }
    }
    // backward direction: from the destination's side
    if (entry.role === "origin") {
      if (c.cmd === CellCmd.Create || c.cmd === CellCmd.Extend) return this.#drop(PathDrop.Unexpected);
      if (c.cmd === CellCmd.Destroy) this.table.remove(entry);
      this.#endpoints.atOrigin(entry, c.cmd, body, now);
      return 0;
    }
    if (entry.extendPending) {
      entry.extendPending = false;
      if (c.cmd === CellCmd.Created) {
        this.table.changed(entry); // now a full relay: a data plane may label-switch it
        const reply = new Uint8Array(EXTENDED_OK_SIZE);
        reply[0] = PathRefusal.Ok;
        reply.set(body.subarray(0, CONFIRM_SIZE), 1);
        this.#sendUp(entry, CellCmd.Extended, reply, now);
        return 0;
      }
      if (c.cmd === CellCmd.Destroy) {
        this.table.clearDown(entry);
        this.#sendUp(entry, CellCmd.Extended, Uint8Array.of(PathRefusal.NextRefused), now);
        return 0;
      }
      entry.extendPending = true;
      return this.#drop(PathDrop.Unexpected);
    }
    if (c.cmd === CellCmd.Create || c.cmd === CellCmd.Extend || c.cmd === CellCmd.Created) {
      return this.#drop(PathDrop.Unexpected);
    }
    this.#forward(buf, cellPos, cellLen, entry.upLink, entry.upPid, now);
    if (c.cmd === CellCmd.Destroy) this.table.remove(entry);
    return 0;
  }

  /** Starts a path over `link`: an origin entry and a CREATE carrying `skin`. */
  originate(link: number, skin: Uint8Array, owner: unknown, now: number): PathEntry | null {
    if (!this.table.canAdd(link) || this.#links.peerOf(link) === null) return null;
    const pid = this.table.allocate(link, this.#links.localIsLow(link));
    const entry: PathEntry = {
      role: "origin",
      upLink: NO_LINK,
      upPid: 0,
      downLink: link,
      downPid: pid,
      hopKeys: null,
      extendSeq: -1,
      extendPending: false,
      createdAt: now,
      lastUsed: now,
      owner,
    };
    this.table.add(entry);
    this.#send(link, pid, CellCmd.Create, skin, now);
    return entry;
  }

  /** Sends a cell from the origin down its path. */
  sendFromOrigin(entry: PathEntry, cmd: number, body: Uint8Array, now: number): boolean {
    if (entry.role !== "origin" || entry.downLink === NO_LINK) return false;
    entry.lastUsed = now;
    return this.#send(entry.downLink, entry.downPid, cmd, body, now);
  }

  /** Sends a cell from the tail up its path towards the origin. */
  sendFromTerminal(entry: PathEntry, cmd: number, body: Uint8Array, now: number): boolean {
    if (entry.role !== "relay" || entry.downLink !== NO_LINK) return false;
    entry.lastUsed = now;
    return this.#send(entry.upLink, entry.upPid, cmd, body, now);
  }

  /** Tears a path down at this node, telling both neighbours. */
  destroy(entry: PathEntry, reason: number, now: number): void {
    const body = Uint8Array.of(reason);
    if (entry.upLink !== NO_LINK) this.#send(entry.upLink, entry.upPid, CellCmd.Destroy, body, now);
    if (entry.downLink !== NO_LINK) this.#send(entry.downLink, entry.downPid, CellCmd.Destroy, body, now);
    this.table.remove(entry);
  }

  /** A link went away: every path over it is torn down towards the other side. */
  linkDown(link: number, now: number): void {
    for (const e of [...this.table.entries()]) {
      if (e.upLink !== link && e.downLink !== link) continue;
      if (e.upLink === link) e.upLink = NO_LINK;
      if (e.downLink === link) e.downLink = NO_LINK;
      this.#notifyLocal(e, PathRefusal.LinkDown, now);
      this.destroy(e, PathRefusal.LinkDown, now);
    }
  }

  /** Expires idle and over-age paths (DESTROY both ways). Call every few seconds. */
  poll(now: number): number {
    let n = 0;
    for (const e of [...this.table.entries()]) {
      if (e.role === "origin") continue; // the origin's owner decides its own paths' fate
      this.table.observer?.touch?.(e, now);
      if (now - e.lastUsed >= PATH_IDLE_TIMEOUT_MS || now - e.createdAt >= PATH_MAX_LIFETIME_MS) {
        this.#notifyLocal(e, PathRefusal.Expired, now);
        this.destroy(e, PathRefusal.Expired, now);
        n++;
      }
    }
    return n;
  }

  #notifyLocal(e: PathEntry, reason: number, now: number): void {
    const body = Uint8Array.of(reason);
    if (e.role === "origin") this.#endpoints.atOrigin(e, CellCmd.Destroy, body, now);
    else if (e.downLink === NO_LINK && e.owner !== undefined)
      this.#endpoints.atTerminal(e, CellCmd.Destroy, body, now);
  }

  #onCreate(link: number, c: Cell, buf: Uint8Array, now: number): number {
    if (!PathTable.peerAllocated(c.pathId, this.#links.localIsLow(link)))
      return this.#drop(PathDrop.BadNamespace);
    if (!this.table.canAdd(link)) {
      this.#send(link, c.pathId, CellCmd.Destroy, Uint8Array.of(PathRefusal.Full), now);
      return this.#drop(PathDrop.TableFull);
    }
    const keys = acceptSkin(this.#identity, buf.subarray(c.bodyPos, c.bodyPos + c.bodyLen));
    if (keys === null) return this.#drop(PathDrop.BadSkin);
    const entry: PathEntry = {
      role: "relay",
      upLink: link,
      upPid: c.pathId,
      downLink: NO_LINK,
      downPid: 0,
      hopKeys: keys,
      extendSeq: -1,
      extendPending: false,
      createdAt: now,
      lastUsed: now,
      owner: undefined,
    };
    this.table.add(entry);
    this.#send(link, c.pathId, CellCmd.Created, confirmTag(keys), now);
    return 0;
  }

  #onExtend(entry: PathEntry, body: Uint8Array, now: number): number {
    const keys = entry.hopKeys;
    if (keys === null) return this.#drop(PathDrop.Unexpected);
    const opened = openExtend(keys, body);
    if (opened === null || opened.plain.length !== EXTEND_PLAIN_SIZE) return this.#drop(PathDrop.BadExtend);
    if (opened.seq <= entry.extendSeq) return this.#drop(PathDrop.BadExtend); // replayed
    entry.extendSeq = opened.seq;
    if (entry.extendPending || entry.owner !== undefined) {
      this.#sendUp(entry, CellCmd.Extended, Uint8Array.of(PathRefusal.Busy), now);
      return 0;
    }
    const next = opened.plain.subarray(0, NODE_ID_SIZE);
    const skin = opened.plain.subarray(NODE_ID_SIZE);
    const from = this.#links.peerOf(entry.upLink);
    if (equal(next, this.#identity.nodeId) || (from !== null && equal(next, from))) {
      this.#sendUp(entry, CellCmd.Extended, Uint8Array.of(PathRefusal.Loop), now);
      return 0;
    }
    const link = this.#links.linkTo(next);
    if (link === NO_LINK) {
      this.#sendUp(entry, CellCmd.Extended, Uint8Array.of(PathRefusal.NoLink), now);
      return 0;
    }
    if (!this.table.canAdd(link)) {
      this.#sendUp(entry, CellCmd.Extended, Uint8Array.of(PathRefusal.Full), now);
      return 0;
    }
    const pid = this.table.allocate(link, this.#links.localIsLow(link));
    entry.extendPending = true; // before setDown: observers must not see a relay before CREATED
    this.table.setDown(entry, link, pid);
    this.#send(link, pid, CellCmd.Create, skin, now);
    return 0;
  }

  #sendUp(entry: PathEntry, cmd: number, body: Uint8Array, now: number): void {
    this.#send(entry.upLink, entry.upPid, cmd, body, now);
  }

  #sendDown(entry: PathEntry, cmd: number, body: Uint8Array, now: number): void {
    this.#send(entry.downLink, entry.downPid, cmd, body, now);
  }

  #send(link: number, pid: number, cmd: number, body: Uint8Array, now: number): boolean {
    if (link === NO_LINK) return false;
    const cell = encodeCell(pid, cmd as CellCmd, body, LINK_ROOM);
    return this.#links.sendCell(link, cell, LINK_ROOM, CELL_HEADER_SIZE + body.length, now);
  }

  #forward(buf: Uint8Array, cellPos: number, cellLen: number, link: number, pid: number, now: number): void {
    writePathId(buf, cellPos, pid);
    if (this.#links.sendCell(link, buf, cellPos, cellLen, now)) {
      this.forwarded++;
      this.forwardedByCmd[buf[cellPos + 4]!]!++;
    }
  }

  #drop(reason: number): number {
    this.drops[reason]!++;
    return reason;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export { DESTROY_BODY_SIZE, KEEPALIVE_BODY_SIZE };
