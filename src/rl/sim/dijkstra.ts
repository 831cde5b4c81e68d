/** Shortest paths on the true latencies of the links and nodes that are up (the oracle and static SP). */
import type { Network } from "./network.ts";

export interface ShortestPaths {
  readonly dist: Float64Array;
  readonly prev: Int32Array;
}

export function dijkstra(net: Network, src: number, weight?: (li: number) => number): ShortestPaths {
  const n = net.n;
  const dist = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const prev = new Int32Array(n).fill(-1);
  if (net.nodeUp[src] === 0) return { dist, prev };
  const heapNode: number[] = [src];
  const heapKey: number[] = [0];
  dist[src] = 0;
  const lat = net.topo.latencyMs;
  while (heapNode.length > 0) {
    const u = heapNode[0]!;
    const du = heapKey[0]!;
    const ln = heapNode.pop()!;
    const lk = heapKey.pop()!;
    if (heapNode.length > 0) siftDown(heapNode, heapKey, ln, lk);
    if (du > dist[u]!) continue;
    for (const [v, li] of net.adj[u]!) {
      if (net.linkUp[li] === 0 || net.nodeUp[v] === 0) continue;
      const w = weight ? weight(li) : lat[li]! + net.queueMs(li);
      const dv = du + w;
      if (dv < dist[v]!) {
        dist[v] = dv;
        prev[v] = u;
        siftUp(heapNode, heapKey, v, dv);
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

function siftUp(nodes: number[], keys: number[], node: number, key: number): void {
  nodes.push(node);
  keys.push(key);
  let i = nodes.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (keys[p]! <= key) break;
    nodes[i] = nodes[p]!;
    keys[i] = keys[p]!;
    i = p;
  }
  nodes[i] = node;
  keys[i] = key;
}

function siftDown(nodes: number[], keys: number[], node: number, key: number): void {
  const n = nodes.length;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && keys[r]! < keys[l]! ? r : l;
    if (keys[c]! >= key) break;
    nodes[i] = nodes[c]!;
    keys[i] = keys[c]!;
    i = c;
  }
  nodes[i] = node;
  keys[i] = key;
}
