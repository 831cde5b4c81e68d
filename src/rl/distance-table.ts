/**
 * What the neighbours claim, and this node's resulting ranking (a distance vector used as a prior).
 *
 * One column per neighbour holds that neighbour's last advertised RTT to each destination (u16 in
 * COST_UNIT_MS). The node's own estimate for a destination is min over usable neighbours of
 * (measured link RTT + claim). Claims only rank first hops to build and probe, and answer other nodes'
 * build extensions; data follows measured paths (agent.ts). Receiver-side split horizon: an entry
 * whose first hop is this node is a withdrawal. Hop counts are capped, so a loop in the claims cannot
 * count to infinity for long, and a build that loops is refused by its source.
 *
 * Layout (a realm of thousands of nodes applies millions of entries per second while it converges, so
 * each entry touches two cache lines): a destination has a slot; a column is one u32 per slot
 * (cost | hops << 16); the best and last-published values of a slot share one 16-byte record.
 * Where ids are small (below DENSE_IDS, and this node's own id is one of them) a destination's slot
 * is its id, and summaries list their entries in slot order, so a receiver walks its columns and
 * records front to back rather than at random: 37% less time per entry, measured at 5,000 nodes.
 * Large ids (overlay IPv4 addresses) get slots in the order they are first heard.
 */
import { COST_UNIT_MS, UNREACHABLE } from "./constants.ts";
import type { NodeId, Summary } from "./types.ts";

interface Column {
  readonly id: NodeId;
  /** Per slot: claimed cost (low 16 bits, UNREACHABLE if none) | hops << 16. */
  e: Uint32Array;
  /** Link RTT used for this column (changes only beyond the hysteresis, to keep recomputation rare). */
  linkMs: number;
  usable: boolean;
  seq: number;
  lastHeard: number;
  /** What it last claimed its RTT to this node is, ms (checked against the link, agent.ts). */
  claimToSelf: number;
}

const INITIAL_CAPACITY = 64;
/**
 * A table whose own id is below this gives every id below it the slot equal to the id (at most this
 * many slots); larger ids, and every id in a table whose own id is larger, find their slot through a
 * Map. The simulator numbers nodes from 0; a node names peers by overlay IPv4 address.
 */
const DENSE_IDS = 1 << 16;
const NONE: readonly NodeId[] = [];
const EMPTY_ENTRY = UNREACHABLE;
const HOPS_SHIFT = 16;
const COST_MASK = 0xffff;

/* The 16-byte record of slot s, as four 32-bit words at 4·s: */
/** Best estimate, ms (f32; +Infinity if none). */
const R_MS = 0;
/** Neighbour it goes through (−1 if none). */
const R_VIA = 1;
/** Neighbour last published as the first hop (−1 if none). */
const R_PUB_VIA = 2;
/** Last published cost (low 16 bits) | best hops << 16 | last published hops << 24. */
const R_PACK = 3;
const R_STRIDE = 4;
const EMPTY_PACK = UNREACHABLE;

/**
 * Bad news is held this long (ms since the last publish) before it is advertised: a failure makes
 * the best cost to many destinations climb through several intermediate values while the neighbours'
 * claims catch up (the distance-vector ripple), and the summary then carries only where it settled.
 * Good news (a destination newly reachable, or clearly cheaper than last published) goes out at the
 * next publish slot (summaryMinGapMs). Claims only rank what to build; a stale claim costs a refused
 * or failed build, which the source detects, never a loop in data.
 */
export const BAD_NEWS_HOLD_MS = 5_000;

export class DistanceTable {
  private readonly cols = new Map<NodeId, Column>();
  private colList: Column[] = [];
  /** Slot = id for ids below DENSE_IDS (set when this node's own id is one of them). */
  private readonly identity: boolean;
  /** Slots of the other ids. */
  private readonly sparseSlot = new Map<NodeId, number>();
  /** The next slot for an id found through sparseSlot. */
  private nextSparse: number;
  /** Per slot: 1 if a destination holds it (identity slots leave holes). */
  private has = new Uint8Array(INITIAL_CAPACITY);
  /** Per slot: its destination's id. */
  private destOf = new Uint32Array(INITIAL_CAPACITY);
  /** One past the highest slot in use, and how many are. */
  private slotEnd = 0;
  private count = 0;
  private cap = INITIAL_CAPACITY;
  /** Slot records, as floats (R_MS) and as integers (the other words). */
  private rf = new Float32Array(INITIAL_CAPACITY * R_STRIDE);
  private ri = new Int32Array(this.rf.buffer);
  private dirtyFlag = new Uint8Array(INITIAL_CAPACITY);
  private dirty: number[] = [];
  /** Some pending change is good news (publish at the next slot rather than after the hold). */
  private urgent = false;

  constructor(
    readonly self: NodeId,
    private readonly hopCap: number,
    private readonly changeFraction: number,
  ) {
    initRecords(this.rf, this.ri, 0, INITIAL_CAPACITY);
    this.identity = Number.isInteger(self) && self >= 0 && self < DENSE_IDS;
    this.nextSparse = this.identity ? DENSE_IDS : 0;
  }

  get destinations(): number {
    return this.count;
  }

  /** Slots the per-slot arrays hold (their memory is about 48 bytes per slot with 8 neighbours). */
  get capacity(): number {
    return this.cap;
  }

  get pendingChanges(): number {
    return this.dirty.length;
  }

  /**
   * Whether a summary is due `sinceLastMs` after the last publish: good news after `minGapMs`,
   * bad news only after BAD_NEWS_HOLD_MS (each publish carries every pending change).
   */
  publishDue(sinceLastMs: number, minGapMs: number): boolean {
    if (this.dirty.length === 0) return false;
    return sinceLastMs >= (this.urgent ? minGapMs : Math.max(minGapMs, BAD_NEWS_HOLD_MS));
  }

  /* ---- neighbours ---- */

  hasNeighbour(n: NodeId): boolean {
    return this.cols.has(n);
  }

  /** A link session to `n` is up with RTT `linkMs`. */
  addNeighbour(n: NodeId, linkMs: number, now: number): void {
    let col = this.cols.get(n);
    const fresh = !col;
    if (!col) {
      col = {
        id: n,
        e: new Uint32Array(this.cap).fill(EMPTY_ENTRY),
        linkMs,
        usable: true,
        seq: -1,
        lastHeard: now,
        claimToSelf: Number.NaN,
      };
      this.cols.set(n, col);
      this.colList.push(col);
    }
    col.linkMs = linkMs;
    col.usable = true;
    const s = this.slot(n);
    col.e[s] = 0;
    // a new column claims nothing but its own slot; a known one may have changed its link cost
    if (fresh) this.update(s, col);
    else this.recomputeAll();
  }

  removeNeighbour(n: NodeId): void {
    if (!this.cols.delete(n)) return;
    this.colList = this.colList.filter((c) => c.id !== n);
    // only the destinations it was the best way to can change
    const ri = this.ri;
    for (let s = 0; s < this.slotEnd; s++) if (ri[s * R_STRIDE + R_VIA] === n) this.recompute(s);
  }

  /** Usable = link up and not distrusted. An unusable column is kept (claims return when trust does). */
  setUsable(n: NodeId, usable: boolean): void {
    const col = this.cols.get(n);
    if (!col || col.usable === usable) return;
    col.usable = usable;
    this.recomputeAll();
  }

  /** A new link RTT estimate; propagated only if it moved by more than `hysteresis`. */
  setLinkCost(n: NodeId, ms: number, hysteresis: number): void {
    const col = this.cols.get(n);
    if (!col) return;
    if (Math.abs(ms - col.linkMs) <= hysteresis * col.linkMs) return;
    col.linkMs = ms;
    // only destinations it claims can change (better through it, or worse where it was the best)
    const e = col.e;
    for (let s = 0; s < this.slotEnd; s++) {
      if ((e[s]! & COST_MASK) !== UNREACHABLE) this.update(s, col);
    }
  }

  lastHeard(n: NodeId): number {
    return this.cols.get(n)?.lastHeard ?? Number.NEGATIVE_INFINITY;
  }

  /** Forgets everything `n` claimed (its summaries expired) but keeps the direct link. */
  expireClaims(n: NodeId): void {
    const col = this.cols.get(n);
    if (!col) return;
    col.e.fill(EMPTY_ENTRY);
    col.e[this.slot(n)] = 0;
    col.seq = -1;
    this.recomputeAll();
  }

  /* ---- claims ---- */

  /**
   * Applies a validated summary from neighbour `summary.origin`. Returns false if it is not a
   * neighbour or the sequence number is not newer (replay).
   */
  apply(summary: Summary, now: number): boolean {
    const col = this.cols.get(summary.origin);
    if (!col || summary.seq <= col.seq) return false;
    col.seq = summary.seq;
    col.lastHeard = now;
    const { dests, costs, hops, vias } = summary;
    if (summary.full) {
      col.e.fill(EMPTY_ENTRY);
      col.e[this.slot(col.id)] = 0;
    }
    const self = this.self;
    const cid = col.id;
    const cap = this.hopCap;
    let e = col.e;
    const identity = this.identity;
    let has = this.has;
    let rf = this.rf;
    let ri = this.ri;
    const usable = col.usable;
    const linkMs = col.linkMs;
    for (let i = 0; i < dests.length; i++) {
      const d = dests[i]!;
      if (d === self) {
        col.claimToSelf = costs[i] === UNREACHABLE ? Number.NaN : costs[i]! * COST_UNIT_MS;
        continue;
      }
      if (d === cid) continue;
      let s = identity && d < DENSE_IDS ? (has[d] === 1 ? d : -1) : this.find(d);
      if (s < 0) {
        // new destinations: make room for all this summary may still bring at once
        if ((identity && d < DENSE_IDS ? d : this.nextSparse) >= this.cap) this.reserve(dests, i);
        s = this.slot(d);
        e = col.e;
        has = this.has;
        rf = this.rf;
        ri = this.ri;
      }
      const c = costs[i]!;
      const h = hops[i]!;
      const v = c === UNREACHABLE || vias[i]! === self || h + 1 > cap ? EMPTY_ENTRY : c | (h << HOPS_SHIFT);
      if (e[s] === v) continue; // nothing new for this destination
      e[s] = v;
      // update(s, col), inlined: O(1) unless it was the best and got worse
      const ms = v === EMPTY_ENTRY || !usable ? Number.POSITIVE_INFINITY : linkMs + c * COST_UNIT_MS;
      const o = s * R_STRIDE;
      if (ri[o + R_VIA] === cid) {
        if (ms <= rf[o + R_MS]!) this.setBest(s, ms, h + 1, cid);
        else this.recompute(s);
      } else if (ms < rf[o + R_MS]!) this.setBest(s, ms, h + 1, cid);
    }
    if (summary.full) {
      // destinations it no longer lists: only those it was our best way to need a recomputation
      const ri = this.ri;
      for (let s = 0; s < this.slotEnd; s++) {
        if (ri[s * R_STRIDE + R_VIA] === cid && (e[s]! & COST_MASK) === UNREACHABLE) this.recompute(s);
      }
    }
    return true;
  }

  /** What neighbour `n` claims its RTT to `dest` is, in ms (Infinity if it claims nothing). */
  claim(n: NodeId, dest: NodeId): number {
    const col = this.cols.get(n);
    const s = this.find(dest);
    if (!col || s < 0) return Number.POSITIVE_INFINITY;
    const c = col.e[s]! & COST_MASK;
    return c === UNREACHABLE ? Number.POSITIVE_INFINITY : c * COST_UNIT_MS;
  }

  /** This node's estimate of its RTT to `dest` (Infinity if unknown). */
  estimate(dest: NodeId): number {
    const s = this.find(dest);
    return s < 0 ? Number.POSITIVE_INFINITY : this.rf[s * R_STRIDE + R_MS]!;
  }

  /**
   * Usable neighbours ranked by link RTT + claim for `dest`, skipping `avoid`.
   * Returns [neighbour, prior RTT ms] pairs, best first.
   */
  rank(dest: NodeId, avoid: ReadonlySet<NodeId>): [NodeId, number][] {
    const s = this.find(dest);
    const out: [NodeId, number][] = [];
    if (s < 0) return out;
    for (const col of this.colList) {
      if ((!col.usable && col.id !== dest) || avoid.has(col.id)) continue; // a distrusted neighbour is still reachable itself
      const v = col.e[s]!;
      const c = v & COST_MASK;
      if (c === UNREACHABLE || (v >>> HOPS_SHIFT) + 1 > this.hopCap) continue;
      out.push([col.id, col.linkMs + c * COST_UNIT_MS]);
    }
    out.sort((a, b) => a[1] - b[1]);
    return out;
  }

  /** What neighbour `n` last claimed its RTT to this node is, ms (NaN if nothing). */
  claimToSelf(n: NodeId): number {
    return this.cols.get(n)?.claimToSelf ?? Number.NaN;
  }

  /** The best usable neighbour towards `dest` not in `skip` or `skip2`, with its claimed remaining RTT. */
  bestNext(
    dest: NodeId,
    skip: ReadonlySet<NodeId> | readonly NodeId[],
    hopsLeft: number,
    skip2: readonly NodeId[] = NONE,
  ): [NodeId, number] | null {
    const s = this.find(dest);
    if (s < 0) return null;
    let best: Column | null = null;
    let bestMs = Number.POSITIVE_INFINITY;
    const set = skip instanceof Set ? skip : null;
    const list = set ? NONE : (skip as readonly NodeId[]);
    for (const col of this.colList) {
      if (!col.usable && col.id !== dest) continue;
      const id = col.id;
      if (set ? set.has(id) : list.includes(id)) continue;
      if (skip2.length > 0 && skip2.includes(id)) continue;
      const v = col.e[s]!;
      const c = v & COST_MASK;
      if (c === UNREACHABLE || (v >>> HOPS_SHIFT) + 1 > hopsLeft) continue;
      const ms = col.linkMs + c * COST_UNIT_MS;
      if (ms < bestMs) {
        bestMs = ms;
        best = col;
      }
    }
    return best ? [best.id, bestMs] : null;
  }

  /* ---- own summary ---- */

  /**
   * The entries to publish: all known destinations if `full`, else those whose estimate moved by more
   * than the change fraction since last published. Marks them published.
   */
  takeSummary(seq: number, full: boolean): Summary {
    return this.summarise(seq, full, true);
  }

  /** Everything this node currently advertises, without marking it published (a reply to a request). */
  snapshotSummary(seq: number): Summary {
    return this.summarise(seq, true, false);
  }

  private summarise(seq: number, full: boolean, mark: boolean): Summary {
    // in slot order: the receivers' slots are in the same order where slots are ids (see the top)
    const slots = full ? this.usedSlots() : Uint32Array.from(this.dirty).sort();
    const n = slots.length;
    const rf = this.rf;
    const ri = this.ri;
    const dests = new Uint32Array(n);
    const costs = new Uint16Array(n);
    const hops = new Uint8Array(n);
    const vias = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const s = slots[i]!;
      const o = s * R_STRIDE;
      const ms = rf[o + R_MS]!;
      const q = Number.isFinite(ms) ? Math.min(UNREACHABLE - 1, Math.round(ms / COST_UNIT_MS)) : UNREACHABLE;
      const pack = ri[o + R_PACK]!;
      const via = ri[o + R_VIA]!;
      const h = q === UNREACHABLE ? 0 : (pack >>> 16) & 0xff;
      dests[i] = this.destOf[s]!;
      costs[i] = q;
      hops[i] = h;
      vias[i] = q === UNREACHABLE ? 0 : Math.max(0, via);
      if (!mark) continue;
      ri[o + R_PACK] = (pack & 0x00ff0000) | q | (h << 24);
      ri[o + R_PUB_VIA] = via;
    }
    if (!mark) return { origin: this.self, seq, full, dests, costs, hops, vias };
    this.urgent = false;
    if (!full) {
      for (const s of this.dirty) this.dirtyFlag[s] = 0;
      this.dirty = [];
    } else {
      this.dirtyFlag.fill(0);
      this.dirty = [];
    }
    return { origin: this.self, seq, full, dests, costs, hops, vias };
  }

  /* ---- internals ---- */

  /** The slot of `dest`, or −1 if it has none. */
  private find(dest: NodeId): number {
    if (this.identity && dest < DENSE_IDS) return this.has[dest] === 1 ? dest : -1;
    return this.sparseSlot.get(dest) ?? -1;
  }

  /** The slot of `dest`, made if it has none. */
  private slot(dest: NodeId): number {
    let s = this.find(dest);
    if (s >= 0) return s;
    const own = this.identity && dest >= 0 && dest < DENSE_IDS && Number.isInteger(dest);
    s = own ? dest : this.nextSparse++;
    if (s >= this.cap) this.grow(s + 1);
    if (!own) this.sparseSlot.set(dest, s);
    this.has[s] = 1;
    this.destOf[s] = dest;
    this.count++;
    if (s >= this.slotEnd) this.slotEnd = s + 1;
    return s;
  }

  /** The slots in use, in order. */
  private usedSlots(): Uint32Array {
    const out = new Uint32Array(this.count);
    const has = this.has;
    for (let s = 0, k = 0; s < this.slotEnd; s++) if (has[s] === 1) out[k++] = s;
    return out;
  }

  /** Grows the arrays, at once, to hold every destination of `dests` from index `from` on. */
  private reserve(dests: Uint32Array, from: number): void {
    let need = 0;
    let sparse = 0;
    for (let i = from; i < dests.length; i++) {
      const d = dests[i]!;
      if (this.find(d) >= 0) continue;
      if (this.identity && d < DENSE_IDS) need = Math.max(need, d + 1);
      else sparse++; // an upper bound: repeats count twice
    }
    if (sparse > 0) need = Math.max(need, this.nextSparse + sparse);
    if (need > this.cap) this.grow(need);
  }

  /** Grows every per-slot array to at least `need` slots (and at least 1.5× the current size). */
  private grow(need = 0): void {
    const cap = Math.max(need, this.cap + (this.cap >> 1));
    for (const col of this.colList) {
      const e = new Uint32Array(cap);
      e.set(col.e);
      e.fill(EMPTY_ENTRY, this.cap);
      col.e = e;
    }
    const rf = new Float32Array(cap * R_STRIDE);
    rf.set(this.rf);
    const ri = new Int32Array(rf.buffer);
    initRecords(rf, ri, this.cap, cap);
    this.rf = rf;
    this.ri = ri;
    const dirty = new Uint8Array(cap);
    dirty.set(this.dirtyFlag);
    this.dirtyFlag = dirty;
    const has = new Uint8Array(cap);
    has.set(this.has);
    this.has = has;
    const destOf = new Uint32Array(cap);
    destOf.set(this.destOf);
    this.destOf = destOf;
    this.cap = cap;
  }

  /** Column `col` changed its entry for slot `s`: O(1) unless it was the best and got worse. */
  private update(s: number, col: Column): void {
    const v = col.e[s]!;
    const c = v & COST_MASK;
    const ms = c === UNREACHABLE || !col.usable ? Number.POSITIVE_INFINITY : col.linkMs + c * COST_UNIT_MS;
    const o = s * R_STRIDE;
    if (this.ri[o + R_VIA] === col.id) {
      if (ms <= this.rf[o + R_MS]!) this.setBest(s, ms, (v >>> HOPS_SHIFT) + 1, col.id);
      else this.recompute(s);
    } else if (ms < this.rf[o + R_MS]!) this.setBest(s, ms, (v >>> HOPS_SHIFT) + 1, col.id);
  }

  private recomputeAll(): void {
    const has = this.has;
    for (let s = 0; s < this.slotEnd; s++) if (has[s] === 1) this.recompute(s);
  }

  private recompute(s: number): void {
    let bestMs = Number.POSITIVE_INFINITY;
    let bestHops = 0;
    let via = -1;
    for (const col of this.colList) {
      if (!col.usable) continue;
      const v = col.e[s]!;
      const c = v & COST_MASK;
      if (c === UNREACHABLE) continue;
      const ms = col.linkMs + c * COST_UNIT_MS;
      if (ms < bestMs) {
        bestMs = ms;
        bestHops = (v >>> HOPS_SHIFT) + 1;
        via = col.id;
      }
    }
    this.setBest(s, bestMs, bestHops, via);
  }

  private setBest(s: number, bestMs: number, bestHops: number, via: number): void {
    const rf = this.rf;
    const ri = this.ri;
    const o = s * R_STRIDE;
    const reach = bestMs < Number.POSITIVE_INFINITY;
    const pack = ri[o + R_PACK]!;
    rf[o + R_MS] = bestMs;
    ri[o + R_PACK] = (pack & ~0x00ff0000) | ((reach ? bestHops & 0xff : 0) << 16);
    ri[o + R_VIA] = reach ? via : -1;
    const dirty = this.dirtyFlag[s] === 1;
    const pub = pack & COST_MASK;
    const pubMs = pub * COST_UNIT_MS;
    // good news: newly reachable, or cheaper than published by more than the change fraction
    const better =
      reach && (pub === UNREACHABLE || pubMs - bestMs > this.changeFraction * pubMs + COST_UNIT_MS);
    if (better) this.urgent = true;
    if (dirty) return;
    const changed =
      better ||
      reach !== (pub !== UNREACHABLE) ||
      (reach && Math.abs(bestMs - pubMs) > this.changeFraction * pubMs + COST_UNIT_MS) ||
      (reach && ri[o + R_PUB_VIA] !== via);
    if (changed) {
      this.dirtyFlag[s] = 1;
      this.dirty.push(s);
    }
  }
}

/** Empty records for slots [from, to): no estimate, nothing published. */
function initRecords(rf: Float32Array, ri: Int32Array, from: number, to: number): void {
  for (let s = from; s < to; s++) {
    const o = s * R_STRIDE;
    rf[o + R_MS] = Number.POSITIVE_INFINITY;
    ri[o + R_VIA] = -1;
    ri[o + R_PUB_VIA] = -1;
    ri[o + R_PACK] = EMPTY_PACK;
  }
}
