/**
 * Mirrors the path switch's table into the native data plane's label table, so the RX loop
 * label-switches DATA and KEEPALIVE cells of paths that only traverse this node without a single
 * JavaScript call per cell (dataplane/native/relay.c). PathSwitch stays the control plane: CREATE,
 * EXTEND, DESTROY and every cell of a path that starts or ends here still reach it.
 *
 *   full relay (extension confirmed)   (upSlot, upPid) → (downSlot, downPid) and back
 *   origin, tail, extension pending    (slot, pid) → LABEL_LOCAL (handed up, opened)
 *
 * Strict mode (unknown labels dropped natively) holds while every binding is mirrored; a full
 * table or a link without a data-plane slot turns it off, and the RX loop then hands unknown
 * labels up for PathSwitch to judge. Native relaying does not pass PathSwitch, so `touch` turns the
 * per-label cell counts of the RX loop into `entry.lastUsed` before idle paths are expired.
 */
import { NO_LINK, type PathEntry, type PathTableObserver } from "../../../anchor/path/table.ts";
import type { LabelTable } from "../dataplane/label-table.ts";
import { LABEL_LOCAL } from "../dataplane/layout.ts";

interface Mirrored {
  /** Installed labels as [slot, pid] pairs. */
  labels: [number, number][];
  /** Sum of the labels' relayed-cell counts at the last touch. */
  cells: number;
}

export class NativeLabels implements PathTableObserver {
  readonly #labels: LabelTable;
  readonly #slotOf: (link: number) => number;
  readonly #mirrored = new Map<PathEntry, Mirrored>();
  /** Bindings that could not be mirrored (no slot, table full); strict mode is off while > 0. */
  #missing = 0;
  readonly counters = { installed: 0, removed: 0, unmirrored: 0 };

  constructor(labels: LabelTable, slotOf: (link: number) => number) {
    this.#labels = labels;
    this.#slotOf = slotOf;
    labels.setStrict(true);
  }

  changed(entry: PathEntry): void {
    // Labels are updated in place (set), stale ones removed after: no cell sees a gap.
    const old = this.#mirrored.get(entry);
    const m: Mirrored = { labels: [], cells: old?.cells ?? 0 };
    const up = entry.upLink === NO_LINK ? -1 : this.#slotOf(entry.upLink);
    const down = entry.downLink === NO_LINK ? -1 : this.#slotOf(entry.downLink);
    const relay = entry.role === "relay" && up >= 0 && down >= 0 && !entry.extendPending;
    if (entry.upLink !== NO_LINK)
      this.#install(m, up, entry.upPid, relay ? down : LABEL_LOCAL, relay ? entry.downPid : 0);
    if (entry.downLink !== NO_LINK)
      this.#install(m, down, entry.downPid, relay ? up : LABEL_LOCAL, relay ? entry.upPid : 0);
    this.#mirrored.set(entry, m);
    if (old) this.#drop(old, m);
  }

  removed(entry: PathEntry): void {
    this.#release(entry);
  }

  touch(entry: PathEntry, now: number): void {
    const m = this.#mirrored.get(entry);
    if (!m) return;
    let cells = 0;
    for (const [slot, pid] of m.labels) cells += this.#labels.use(slot, pid)?.cells ?? 0;
    if (cells !== m.cells) {
      m.cells = cells;
      entry.lastUsed = now;
    }
  }

  /** Labels currently mirrored for `entry` (diagnostics and tests). */
  labelsOf(entry: PathEntry): readonly (readonly [number, number])[] {
    return this.#mirrored.get(entry)?.labels ?? [];
  }

  #install(m: Mirrored, slot: number, pid: number, outSlot: number, outPid: number): void {
    if (slot < 0 || !this.#labels.set(slot, pid, outSlot, outPid)) {
      this.#missing++;
      this.counters.unmirrored++;
      this.#labels.setStrict(false);
      m.labels.push([-1, pid]);
      return;
    }
    this.counters.installed++;
    m.labels.push([slot, pid]);
  }

  #release(entry: PathEntry): void {
    const m = this.#mirrored.get(entry);
    if (!m) return;
    this.#mirrored.delete(entry);
    this.#drop(m, null);
  }

  /** Removes the labels of `m` that `keep` does not hold. */
  #drop(m: Mirrored, keep: Mirrored | null): void {
    for (const [slot, pid] of m.labels) {
      if (slot < 0) {
        this.#missing--;
        continue;
      }
      if (keep?.labels.some(([s, p]) => s === slot && p === pid)) continue;
      if (this.#labels.delete(slot, pid)) this.counters.removed++;
    }
    if (this.#missing === 0) this.#labels.setStrict(true);
  }
}
