/** Shortest paths on the true latencies of the links and nodes that are up (the oracle and static SP). */
import type { Network } from "./network.ts";

export interface ShortestPaths {
  readonly dist: Float64Array;
  readonly prev: Int32Array;
}

/** Compressed adjacency of a network (built once per network; link states are read live). */
export interface Csr {
  readonly off: Int32Array;
  readonly nbr: Int32Array;
  readonly lnk: Int32Array;
  /** Heap scratch (node, key), one slot per directed edge + 1; reused by every search on this network. */
  readonly hn: Int32Array;
  readonly hk: Float64Array;
}

const csrCache = new WeakMap<Network, Csr>();

function csr(net: Network): Csr {
  let c = csrCache.get(net);
  if (c) return c;
  const n = net.n;
  const off = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) off[i + 1] = off[i]! + net.adj[i]!.size;
  const nbr = new Int32Array(off[n]!);
  const lnk = new Int32Array(off[n]!);
  for (let i = 0; i < n; i++) {
    let k = off[i]!;
    for (const [v, li] of net.adj[i]!) {
      nbr[k] = v;
      lnk[k] = li;
      k++;
    }
  }
  c = { off, nbr, lnk, hn: new Int32Array(off[n]! + 1), hk: new Float64Array(off[n]! + 1) };
  csrCache.set(net, c);
  return c;
}

/**
 * Dijkstra from `src`; `weight` overrides the link weight (default: latency + queueing). With
 * `targets`, it stops once they are all settled (distances to other nodes may then be too high).
 */
export function dijkstra(
  net: Network,
  src: number,
  weight?: (li: number) => number,
  targets?: readonly number[],
  /** Arrays to reuse for the result (overwritten). */
  into?: ShortestPaths,
): ShortestPaths {
  const n = net.n;
  const { off, nbr, lnk, hn, hk } = csr(net);
  const dist = into
    ? into.dist.fill(Number.POSITIVE_INFINITY)
    : new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const prev = into ? into.prev.fill(-1) : new Int32Array(n).fill(-1);
  if (net.nodeUp[src] === 0) return { dist, prev };
  let size = 0;
  const push = (v: number, k: number) => {
    let i = size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (hk[p]! <= k) break;
      hn[i] = hn[p]!;
      hk[i] = hk[p]!;
      i = p;
    }
    hn[i] = v;
    hk[i] = k;
  };
  dist[src] = 0;
  push(src, 0);
  let left = targets ? new Set(targets).size : -1;
  const wanted = targets ? new Set(targets) : null;
  const lat = net.topo.latencyMs;
  const up = net.linkUp;
  const nodeUp = net.nodeUp;
  while (size > 0) {
    const u = hn[0]!;
    const du = hk[0]!;
    size--;
    if (size > 0) {
      const ln = hn[size]!;
      const lk = hk[size]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= size) break;
        const r = l + 1;
        const c = r < size && hk[r]! < hk[l]! ? r : l;
        if (hk[c]! >= lk) break;
        hn[i] = hn[c]!;
        hk[i] = hk[c]!;
        i = c;
      }
      hn[i] = ln;
      hk[i] = lk;
    }
    if (du > dist[u]!) continue;
    if (wanted?.has(u) && --left === 0) break;
    for (let e = off[u]!; e < off[u + 1]!; e++) {
      const li = lnk[e]!;
      const v = nbr[e]!;
      if (up[li] === 0 || nodeUp[v] === 0) continue;
      const dv = du + (weight ? weight(li) : lat[li]! + net.queueMs(li));
      if (dv < dist[v]!) {
        dist[v] = dv;
        prev[v] = u;
        push(v, dv);
      }
    }
  }
  return { dist, prev };
}

/** The hops from the source to `dest` (source excluded), or null if unreachable. */
export function pathTo(sp: ShortestPaths, dest: number): number[] | null {
  if (!Number.isFinite(sp.dist[dest]!)) return null;
  const hops: number[] = [];
  for (let v = dest; sp.prev[v] !== -1; v = sp.prev[v]!) hops.push(v);
  hops.reverse();
  return hops.length > 0 ? hops : null;
}
