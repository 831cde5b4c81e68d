/**
 * What the neighbours claim, and this node's resulting ranking (a distance vector used as a prior).
 *
 * One column per neighbour holds that neighbour's last advertised RTT to each destination (u16 in
 * COST_UNIT_MS). The node's own estimate for a destination is min over usable neighbours of
 * (measured link RTT + claim). Claims only rank first hops to build and probe, and answer other nodes'
 * build extensions; data follows measured paths (agent.ts). Receiver-side split horizon: an entry
 * whose first hop is this node is a withdrawal. Hop counts are capped, so a loop in the claims cannot
 * count to infinity for long, and a build that loops is refused by its source.
 */
import { COST_UNIT_MS, UNREACHABLE } from "./constants.ts";
import type { NodeId, Summary } from "./types.ts";

interface Column {
  readonly id: NodeId;
  cost: Uint16Array;
  hops: Uint8Array;
  /** Link RTT used for this column (changes only beyond the hysteresis, to keep recomputation rare). */
  linkMs: number;
  usable: boolean;
  seq: number;
  lastHeard: number;
  /** What it last claimed its RTT to this node is, ms (checked against the link, agent.ts). */
  claimToSelf: number;
}

const INITIAL_CAPACITY = 64;
const NONE: readonly NodeId[] = [];

export class DistanceTable {
  private readonly cols = new Map<NodeId, Column>();
  private colList: Column[] = [];
  private readonly slotOf = new Map<NodeId, number>();
  private destOf: NodeId[] = [];
  private cap = INITIAL_CAPACITY;
  private bestMs = new Float32Array(INITIAL_CAPACITY).fill(Number.POSITIVE_INFINITY);
  private bestHops = new Uint8Array(INITIAL_CAPACITY);
  private bestVia = new Int32Array(INITIAL_CAPACITY).fill(-1);
  private pubCost = new Uint16Array(INITIAL_CAPACITY).fill(UNREACHABLE);
  private pubHops = new Uint8Array(INITIAL_CAPACITY);
  private pubVia = new Int32Array(INITIAL_CAPACITY).fill(-1);
  private dirtyFlag = new Uint8Array(INITIAL_CAPACITY);
  private dirty: number[] = [];

  constructor(
    readonly self: NodeId,
    private readonly hopCap: number,
    private readonly changeFraction: number,
  ) {}

  get destinations(): number {
    return this.destOf.length;
  }

  get pendingChanges(): number {
    return this.dirty.length;
  }

  /* ---- neighbours ---- */

  hasNeighbour(n: NodeId): boolean {
    return this.cols.has(n);
  }

  /** A link session to `n` is up with RTT `linkMs`. */
  addNeighbour(n: NodeId, linkMs: number, now: number): void {
    let col = this.cols.get(n);
    if (!col) {
      col = {
        id: n,
        cost: new Uint16Array(this.cap).fill(UNREACHABLE),
        hops: new Uint8Array(this.cap),
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
    col.cost[s] = 0;
    col.hops[s] = 0;
    this.recomputeAll();
  }

  removeNeighbour(n: NodeId): void {
    if (!this.cols.delete(n)) return;
    this.colList = this.colList.filter((c) => c.id !== n);
    this.recomputeAll();
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
    this.recomputeAll();
  }

  lastHeard(n: NodeId): number {
    return this.cols.get(n)?.lastHeard ?? Number.NEGATIVE_INFINITY;
  }

  /** Forgets everything `n` claimed (its summaries expired) but keeps the direct link. */
  expireClaims(n: NodeId): void {
    const col = this.cols.get(n);
    if (!col) return;
    col.cost.fill(UNREACHABLE);
    col.cost[this.slot(n)] = 0;
    col.hops[this.slot(n)] = 0;
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
      col.cost.fill(UNREACHABLE);
      col.cost[this.slot(col.id)] = 0;
      col.hops[this.slot(col.id)] = 0;
    }
    for (let i = 0; i < dests.length; i++) {
      const d = dests[i]!;
      if (d === this.self) {
        col.claimToSelf = costs[i] === UNREACHABLE ? Number.NaN : costs[i]! * COST_UNIT_MS;
        continue;
      }
      if (d === col.id) continue;
      const s = this.slot(d); // may grow the arrays: read col.cost after it
      const h = hops[i]!;
      const withdrawn = costs[i]! === UNREACHABLE || vias[i]! === this.self || h + 1 > this.hopCap;
      col.cost[s] = withdrawn ? UNREACHABLE : costs[i]!;
      col.hops[s] = withdrawn ? 0 : h;
      this.update(s, col);
    }
    if (summary.full) {
      // destinations it no longer lists: only those it was our best way to need a recomputation
      for (let s = 0; s < this.destOf.length; s++) {
        if (this.bestVia[s] === col.id && col.cost[s] === UNREACHABLE) this.recompute(s);
      }
    }
    return true;
  }

  /** What neighbour `n` claims its RTT to `dest` is, in ms (Infinity if it claims nothing). */
  claim(n: NodeId, dest: NodeId): number {
    const col = this.cols.get(n);
    const s = this.slotOf.get(dest);
    if (!col || s === undefined) return Number.POSITIVE_INFINITY;
    const c = col.cost[s]!;
    return c === UNREACHABLE ? Number.POSITIVE_INFINITY : c * COST_UNIT_MS;
  }

  /** This node's estimate of its RTT to `dest` (Infinity if unknown). */
  estimate(dest: NodeId): number {
    const s = this.slotOf.get(dest);
    return s === undefined ? Number.POSITIVE_INFINITY : this.bestMs[s]!;
  }

  /**
   * Usable neighbours ranked by link RTT + claim for `dest`, skipping `avoid`.
   * Returns [neighbour, prior RTT ms] pairs, best first.
   */
  rank(dest: NodeId, avoid: ReadonlySet<NodeId>): [NodeId, number][] {
    const s = this.slotOf.get(dest);
    const out: [NodeId, number][] = [];
    if (s === undefined) return out;
    for (const col of this.colList) {
      if ((!col.usable && col.id !== dest) || avoid.has(col.id)) continue; // a distrusted neighbour is still reachable itself
      const c = col.cost[s]!;
      if (c === UNREACHABLE || col.hops[s]! + 1 > this.hopCap) continue;
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
    const s = this.slotOf.get(dest);
    if (s === undefined) return null;
    let best: Column | null = null;
    let bestMs = Number.POSITIVE_INFINITY;
    const has =
      skip instanceof Set ? (n: NodeId) => skip.has(n) : (n: NodeId) => (skip as NodeId[]).includes(n);
    for (const col of this.colList) {
      if ((!col.usable && col.id !== dest) || has(col.id) || skip2.includes(col.id)) continue;
      const c = col.cost[s]!;
      if (c === UNREACHABLE || col.hops[s]! + 1 > hopsLeft) continue;
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
    const slots = full ? this.destOf.map((_, i) => i) : this.dirty;
    const n = slots.length;
    const dests = new Uint32Array(n);
    const costs = new Uint16Array(n);
    const hops = new Uint8Array(n);
    const vias = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const s = slots[i]!;
      const ms = this.bestMs[s]!;
      const q = Number.isFinite(ms) ? Math.min(UNREACHABLE - 1, Math.round(ms / COST_UNIT_MS)) : UNREACHABLE;
      dests[i] = this.destOf[s]!;
      costs[i] = q;
      hops[i] = q === UNREACHABLE ? 0 : this.bestHops[s]!;
      vias[i] = q === UNREACHABLE ? 0 : Math.max(0, this.bestVia[s]!);
      if (!mark) continue;
      this.pubCost[s] = q;
      this.pubHops[s] = hops[i]!;
      this.pubVia[s] = this.bestVia[s]!;
    }
    if (!mark) return { origin: this.self, seq, full, dests, costs, hops, vias };
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

  private slot(dest: NodeId): number {
    let s = this.slotOf.get(dest);
    if (s !== undefined) return s;
    s = this.destOf.length;
    if (s >= this.cap) this.grow();
    this.slotOf.set(dest, s);
    this.destOf.push(dest);
    return s;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const g16 = (a: Uint16Array, fill: number) => {
      const b = new Uint16Array(cap).fill(fill);
      b.set(a);
      return b;
    };
    const g8 = (a: Uint8Array) => {
      const b = new Uint8Array(cap);
      b.set(a);
      return b;
    };
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(cap).fill(-1);
      b.set(a);
      return b;
    };
    for (const col of this.colList) {
      col.cost = g16(col.cost, UNREACHABLE);
      col.hops = g8(col.hops);
    }
    const best = new Float32Array(cap).fill(Number.POSITIVE_INFINITY);
    best.set(this.bestMs);
    this.bestMs = best;
    this.bestHops = g8(this.bestHops);
    this.bestVia = g32(this.bestVia);
    this.pubCost = g16(this.pubCost, UNREACHABLE);
    this.pubHops = g8(this.pubHops);
    this.pubVia = g32(this.pubVia);
    this.dirtyFlag = g8(this.dirtyFlag);
    this.cap = cap;
  }

  /** Column `col` changed its entry for slot `s`: O(1) unless it was the best and got worse. */
  private update(s: number, col: Column): void {
    const c = col.cost[s]!;
    const ms = c === UNREACHABLE || !col.usable ? Number.POSITIVE_INFINITY : col.linkMs + c * COST_UNIT_MS;
    if (this.bestVia[s] === col.id) {
      if (ms <= this.bestMs[s]!) this.setBest(s, ms, col.hops[s]! + 1, col.id);
      else this.recompute(s);
    } else if (ms < this.bestMs[s]!) this.setBest(s, ms, col.hops[s]! + 1, col.id);
  }

  private recomputeAll(): void {
    for (let s = 0; s < this.destOf.length; s++) this.recompute(s);
  }

  private recompute(s: number): void {
    let bestMs = Number.POSITIVE_INFINITY;
    let bestHops = 0;
    let via = -1;
    for (const col of this.colList) {
      if (!col.usable) continue;
      const c = col.cost[s]!;
      if (c === UNREACHABLE) continue;
      const ms = col.linkMs + c * COST_UNIT_MS;
      if (ms < bestMs) {
        bestMs = ms;
        bestHops = col.hops[s]! + 1;
        via = col.id;
      }
    }
    this.setBest(s, bestMs, bestHops, via);
  }

  private setBest(s: number, bestMs: number, bestHops: number, via: number): void {
    this.bestMs[s] = bestMs;
    this.bestHops[s] = Number.isFinite(bestMs) ? bestHops : 0;
    this.bestVia[s] = Number.isFinite(bestMs) ? via : -1;
    if (this.dirtyFlag[s]) return;
    const pub = this.pubCost[s]!;
    const reach = Number.isFinite(bestMs);
    const pubMs = pub * COST_UNIT_MS;
    const changed =
      reach !== (pub !== UNREACHABLE) ||
      (reach && Math.abs(bestMs - pubMs) > this.changeFraction * pubMs + COST_UNIT_MS) ||
      (reach && this.pubVia[s] !== via);
    if (changed) {
      this.dirtyFlag[s] = 1;
      this.dirty.push(s);
    }
  }
}
