/** The simulator's event queue: a binary min-heap keyed on (time, insertion order), so ties are FIFO. */
export interface SimEvent {
  t: number;
  seq: number;
  run: () => void;
}

export class EventQueue {
  private readonly heap: SimEvent[] = [];
  private seq = 0;
  now = 0;
  processed = 0;

  get size(): number {
    return this.heap.length;
  }

  at(t: number, run: () => void): void {
    const e: SimEvent = { t: Math.max(t, this.now), seq: this.seq++, run };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  /** Drops every pending event (the run is over; what they hold can be collected). */
  clear(): void {
    this.heap.length = 0;
  }

  /** Runs events in order until the queue is empty or the next event is after `until`. */
  runUntil(until: number): void {
    const h = this.heap;
    while (h.length > 0 && h[0]!.t <= until) {
      const top = h[0]!;
      const last = h.pop()!;
      if (h.length > 0) {
        let i = 0;
        const n = h.length;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= n) break;
          const r = l + 1;
          const c = r < n && less(h[r]!, h[l]!) ? r : l;
          if (!less(h[c]!, last)) break;
          h[i] = h[c]!;
          i = c;
        }
        h[i] = last;
      }
      this.now = top.t;
      this.processed++;
      top.run();
    }
    this.now = Math.max(this.now, until);
  }
}

function less(a: SimEvent, b: SimEvent): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
