/**
 * The label-switching table of one node: `(link, path id) → entry`, where an entry joins its
 * upstream side (towards the origin) and downstream side (towards the destination):
 *
 *   relay     (upLink, upPid) ⇄ (downLink, downPid)     forward cells go down, backward cells go up
 *   tail      (upLink, upPid) ⇄ —                       this node ends the path (or awaits EXTEND)
 *   origin    —               ⇄ (downLink, downPid)     this node started the path
 *
 * Path ids are random per hop. On each link both ends allocate ids, so the id space is split by the
 * top bit: the end with the lower node id allocates ids with bit 31 clear, the other with it set.
 */
import { randomBytes } from "node:crypto";
import type { HopKeys } from "./hop-key.ts";

/* Implementation constants */
export const MAX_PATHS = 65_536;
export const MAX_PATHS_PER_LINK = 8_192;
export const NO_LINK = -1;
const HIGH_BIT = 0x80000000;
const TWO_32 = 2 ** 32;

export type EntryRole = "relay" | "origin";

export interface PathEntry {
  /** "origin" for paths this node started; "relay" otherwise (a relay without down side is the tail). */
  readonly role: EntryRole;
  upLink: number;
  upPid: number;
  downLink: number;
  downPid: number;
  /** Keys shared with the origin (relay/tail entries); null at the origin. */
  readonly hopKeys: HopKeys | null;
  /** Highest EXTEND sequence accepted (replayed EXTENDs are ignored). */
  extendSeq: number;
  /** An EXTEND was acted on and the next hop has not answered CREATED yet. */
  extendPending: boolean;
  readonly createdAt: number;
  lastUsed: number;
  /** Whoever owns an origin or terminal entry (builder, end-to-end endpoint). */
  owner: unknown;
}

export const Side = { Up: 0, Down: 1 } as const;

/**
 * Told of every change to the table's bindings, so a data plane can mirror them (the native label
 * table of conflux/dataplane): `changed` after an entry was added or its sides or state changed,
 * `removed` after it left the table. `touch` may refresh `entry.lastUsed` from use the data plane
 * saw (cells relayed without passing through this table) before idle paths are expired.
 */
export interface PathTableObserver {
  changed(entry: PathEntry): void;
  removed(entry: PathEntry): void;
  touch?(entry: PathEntry, now: number): void;
}

const key = (link: number, pid: number): number => link * TWO_32 + pid;

export class PathTable {
  readonly #map = new Map<number, { entry: PathEntry; side: number }>();
  readonly #perLink = new Map<number, number>();
  readonly #entries = new Set<PathEntry>();
  observer: PathTableObserver | undefined;

  get size(): number {
    return this.#entries.size;
  }

  entries(): IterableIterator<PathEntry> {
    return this.#entries.values();
  }

  lookup(link: number, pid: number): { entry: PathEntry; side: number } | undefined {
    return this.#map.get(key(link, pid));
  }

  has(link: number, pid: number): boolean {
    return this.#map.has(key(link, pid));
  }

  linkCount(link: number): number {
    return this.#perLink.get(link) ?? 0;
  }

  canAdd(link: number): boolean {
    return this.#entries.size < MAX_PATHS && this.linkCount(link) < MAX_PATHS_PER_LINK;
  }

  /** A fresh random path id in our half of `link`'s id space (never 0, never in use). */
  allocate(link: number, localIsLow: boolean): number {
    for (;;) {
      const r = randomBytes(4).readUInt32LE(0);
      const pid = localIsLow ? r & ~HIGH_BIT & 0x7fffffff : (r | HIGH_BIT) >>> 0;
      if (pid !== 0 && !this.has(link, pid)) return pid;
    }
  }

  /** True when `pid` lies in the half of the id space that the peer (not we) allocates. */
  static peerAllocated(pid: number, localIsLow: boolean): boolean {
    return localIsLow ? pid >= HIGH_BIT : pid > 0 && pid < HIGH_BIT;
  }

  add(entry: PathEntry): void {
    this.#entries.add(entry);
    if (entry.upLink !== NO_LINK) this.#bind(entry.upLink, entry.upPid, entry, Side.Up);
    if (entry.downLink !== NO_LINK) this.#bind(entry.downLink, entry.downPid, entry, Side.Down);
    this.observer?.changed(entry);
  }

  /** Tells the observer that an entry's state changed (e.g. its extension completed). */
  changed(entry: PathEntry): void {
    if (this.#entries.has(entry)) this.observer?.changed(entry);
  }

  /** Attaches a downstream side to an entry (after EXTEND). */
  setDown(entry: PathEntry, link: number, pid: number): void {
    entry.downLink = link;
    entry.downPid = pid;
    this.#bind(link, pid, entry, Side.Down);
    this.observer?.changed(entry);
  }

  /** Detaches the downstream side (the next hop refused or went away). */
  clearDown(entry: PathEntry): void {
    if (entry.downLink === NO_LINK) return;
    this.#unbind(entry.downLink, entry.downPid);
    entry.downLink = NO_LINK;
    entry.downPid = 0;
    this.observer?.changed(entry);
  }

  remove(entry: PathEntry): void {
    if (!this.#entries.delete(entry)) return;
    if (entry.upLink !== NO_LINK) this.#unbind(entry.upLink, entry.upPid);
    if (entry.downLink !== NO_LINK) this.#unbind(entry.downLink, entry.downPid);
    this.observer?.removed(entry);
  }

  #bind(link: number, pid: number, entry: PathEntry, side: number): void {
    this.#map.set(key(link, pid), { entry, side });
    this.#perLink.set(link, this.linkCount(link) + 1);
  }

  #unbind(link: number, pid: number): void {
    if (this.#map.delete(key(link, pid))) this.#perLink.set(link, this.linkCount(link) - 1);
  }
}
