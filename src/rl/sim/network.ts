/**
 * The simulated underlay: links with latency, jitter, loss and capacity, nodes that crash, and the
 * packet walk along a path. A packet's fate is computed when it is sent, from the link and node
 * states at that moment (flights last milliseconds; failures are seconds apart).
 */
import { gaussian, type Rng } from "../rng.ts";
import type { Hops } from "../types.ts";
import type { Topology } from "./topology.ts";

/** Queueing delay cap when a link is saturated, ms. */
const MAX_QUEUE_MS = 50;
const SPIKE_P = 0.001;

export interface Adversary {
  /** Share of forwarded packets dropped. */
  dropShare: number;
  /** Extra one-way delay on everything it forwards, ms. */
  extraMs: number;
}

export interface WalkResult {
  ok: boolean;
  /** One-way latency, ms (meaningful only if ok). */
  ms: number;
}

export class Network {
  readonly n: number;
  readonly linkUp: Uint8Array;
  readonly nodeUp: Uint8Array;
  /** Offered load per undirected link, packets/s (refreshed by the world). */
  readonly load: Float64Array;
  readonly adj: Map<number, number>[];
  readonly adversaries = new Map<number, Adversary>();
  /** Incremented on every topology change (the oracle caches per epoch). */
  epoch = 0;
  private readonly res: WalkResult = { ok: false, ms: 0 };
  /** Compressed adjacency for link lookups on the packet path: neighbours of u at [off[u], off[u+1]). */
  private readonly off: Int32Array;
  private readonly nbr: Int32Array;
  private readonly lnk: Int32Array;

  constructor(
    readonly topo: Topology,
    private readonly rng: Rng,
  ) {
    this.n = topo.n;
    const m = topo.a.length;
    this.linkUp = new Uint8Array(m).fill(1);
    this.nodeUp = new Uint8Array(this.n).fill(1);
    this.load = new Float64Array(m);
    this.adj = Array.from({ length: this.n }, () => new Map<number, number>());
    for (let i = 0; i < m; i++) {
      this.adj[topo.a[i]!]!.set(topo.b[i]!, i);
      this.adj[topo.b[i]!]!.set(topo.a[i]!, i);
    }
    this.off = new Int32Array(this.n + 1);
    for (let u = 0; u < this.n; u++) this.off[u + 1] = this.off[u]! + this.adj[u]!.size;
    this.nbr = new Int32Array(2 * m);
    this.lnk = new Int32Array(2 * m);
    for (let u = 0; u < this.n; u++) {
      let k = this.off[u]!;
      for (const [v, li] of this.adj[u]!) {
        this.nbr[k] = v;
        this.lnk[k++] = li;
      }
    }
  }

  /** The neighbours of `u`, in the order of `adj[u]` (a view: do not modify). */
  neighbours(u: number): Int32Array {
    return this.nbr.subarray(this.off[u]!, this.off[u + 1]!);
  }

  /** The link between u and v, −1 if none. */
  link(u: number, v: number): number {
    const nbr = this.nbr;
    for (let k = this.off[u]!, end = this.off[u + 1]!; k < end; k++) if (nbr[k] === v) return this.lnk[k]!;
    return -1;
  }

  usable(u: number, v: number): boolean {
    const li = this.link(u, v);
    return li >= 0 && this.linkUp[li] === 1 && this.nodeUp[u] === 1 && this.nodeUp[v] === 1;
  }

  setLink(li: number, up: boolean): void {
    this.linkUp[li] = up ? 1 : 0;
    this.epoch++;
  }

  setNode(i: number, up: boolean): void {
    this.nodeUp[i] = up ? 1 : 0;
    this.epoch++;
  }

  /** One sampled one-way traversal of link `li` (jitter, rare spikes, queueing), ms. */
  sampleMs(li: number): number {
    const base = this.topo.latencyMs[li]!;
    let ms = base * (1 + 0.05 * Math.abs(gaussian(this.rng)));
    if (this.rng.next() < SPIKE_P) ms += Math.min(200, 5 / (1 - this.rng.next()) ** (1 / 1.5));
    return ms + this.queueMs(li);
  }

  queueMs(li: number): number {
    const rho = this.load[li]! / this.topo.capacityPps[li]!;
    if (rho >= 1) return MAX_QUEUE_MS;
    return Math.min(MAX_QUEUE_MS, (1000 / this.topo.capacityPps[li]!) * (rho / (1 - rho)));
  }

  /** Loss on link `li`: its own loss plus overload drops. */
  lossOf(li: number): number {
    const rho = this.load[li]! / this.topo.capacityPps[li]!;
    return this.topo.loss[li]! + (rho > 1 ? 1 - 1 / rho : 0);
  }

  /**
   * Walks `src` → hops (forward) or back (reverse). The returned object is reused: read it at once.
   */
  walk(src: number, hops: Hops, reverse: boolean): WalkResult {
    const r = this.res;
    r.ok = false;
    r.ms = 0;
    const k = hops.length;
    const advs = this.adversaries.size > 0 ? this.adversaries : null;
    for (let i = 0; i < k; i++) {
      const u = reverse ? hops[k - 1 - i]! : i === 0 ? src : hops[i - 1]!;
      const v = reverse ? (i === k - 1 ? src : hops[k - 2 - i]!) : hops[i]!;
      const li = this.link(u, v);
      if (li < 0 || this.linkUp[li] === 0 || this.nodeUp[v] === 0 || this.nodeUp[u] === 0) return r;
      if (this.rng.next() < this.lossOf(li)) return r;
      r.ms += this.sampleMs(li);
      const adv = advs && i > 0 ? advs.get(u) : undefined;
      if (adv) {
        if (this.rng.next() < adv.dropShare) return r;
        r.ms += adv.extraMs;
      }
    }
    r.ok = true;
    return r;
  }

  /** Round trip over the path and back (a probe or an ack). NaN if lost. */
  roundTrip(src: number, hops: Hops): number {
    const f = this.walk(src, hops, false);
    if (!f.ok) return Number.NaN;
    const out = f.ms;
    const b = this.walk(src, hops, true);
    return b.ok ? out + b.ms : Number.NaN;
  }

  /** Base one-way latency of a path over the current up links (no jitter, with queueing); NaN if broken. */
  pathMs(src: number, hops: Hops): number {
    let ms = 0;
    let u = src;
    for (const v of hops) {
      const li = this.link(u, v);
      if (li < 0 || this.linkUp[li] === 0 || this.nodeUp[v] === 0) return Number.NaN;
      ms += this.topo.latencyMs[li]! + this.queueMs(li);
      const adv = u !== src ? this.adversaries.get(u) : undefined;
      if (adv) ms += adv.extraMs;
      u = v;
    }
    return this.nodeUp[src] === 1 ? ms : Number.NaN;
  }
}
