/**
 * Main-thread writer of the overlay routing table the TX loop reads: destination prefix → peer
 * slot. Host routes (/32, /128) live in a hash table; shorter prefixes in a list, longest first.
 * Route changes are rare, so every change rewrites the whole table under one seqlock.
 */
import { maskPrefix, parsePrefix } from "../../../ffi/inet.ts";
import { DataplaneConfigError } from "./errors.ts";
import {
  G_PREFIX_COUNT,
  G_ROUTE_SEQ,
  HOST_BUCKETS,
  HOST_ENTRY,
  HOSTS_OFF,
  PREFIX_ENTRY,
  PREFIX_MAX,
  PREFIXES_OFF,
  routeHash,
} from "./layout.ts";

interface Route {
  readonly key: Uint8Array; // 16 bytes, v4 mapped
  readonly len: number; // 0..128 in the 128-bit space
  readonly slot: number;
}

/** 16-byte route key and prefix length of `cidr` (IPv4 as ::ffff:a.b.c.d, length + 96). */
export function routeKey(cidr: string): { key: Uint8Array; len: number } {
  const p = parsePrefix(cidr);
  if (p.family === 6) return { key: maskPrefix(p.bytes, p.prefixLen), len: p.prefixLen };
  const key = new Uint8Array(16);
  key[10] = 0xff;
  key[11] = 0xff;
  key.set(maskPrefix(p.bytes, p.prefixLen), 12);
  return { key, len: p.prefixLen + 96 };
}

export class RouteTable {
  private readonly routes = new Map<string, Route>();
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;

  constructor(sab: SharedArrayBuffer) {
    this.u8 = new Uint8Array(sab);
    this.u32 = new Uint32Array(sab);
  }

  /** Routes `cidr` (IPv4 or IPv6) to peer `slot`, replacing an earlier route for it. */
  set(cidr: string, slot: number): void {
    const { key, len } = routeKey(cidr);
    const id = `${Buffer.from(key).toString("hex")}/${len}`;
    const next = new Map(this.routes);
    next.set(id, { key, len, slot });
    this.publish(next);
  }

  /** Removes the route for exactly `cidr`; returns whether it existed. */
  delete(cidr: string): boolean {
    const { key, len } = routeKey(cidr);
    const next = new Map(this.routes);
    if (!next.delete(`${Buffer.from(key).toString("hex")}/${len}`)) return false;
    this.publish(next);
    return true;
  }

  /** Removes every route pointing at `slot`. */
  deleteSlot(slot: number): void {
    const next = new Map([...this.routes].filter(([, r]) => r.slot !== slot));
    if (next.size !== this.routes.size) this.publish(next);
  }

  list(): { key: Uint8Array; len: number; slot: number }[] {
    return [...this.routes.values()];
  }

  private publish(next: Map<string, Route>): void {
    const hosts = [...next.values()].filter((r) => r.len === 128);
    const prefixes = [...next.values()].filter((r) => r.len < 128).sort((a, b) => b.len - a.len);
    if (hosts.length > HOST_BUCKETS / 2 || prefixes.length > PREFIX_MAX) {
      throw new DataplaneConfigError("DP_ROUTES_FULL", "routing table is full");
    }
    const seq = G_ROUTE_SEQ >> 2;
    Atomics.add(this.u32, seq, 1);
    try {
      this.u8.fill(0, HOSTS_OFF, HOSTS_OFF + HOST_BUCKETS * HOST_ENTRY);
      for (const r of hosts) {
        let i = routeHash(r.key) & (HOST_BUCKETS - 1);
        while (this.u32[(HOSTS_OFF + i * HOST_ENTRY + 16) >> 2] !== 0) i = (i + 1) & (HOST_BUCKETS - 1);
        const off = HOSTS_OFF + i * HOST_ENTRY;
        this.u8.set(r.key, off);
        Atomics.store(this.u32, (off + 16) >> 2, r.slot + 1);
      }
      prefixes.forEach((r, i) => {
        const off = PREFIXES_OFF + i * PREFIX_ENTRY;
        this.u8.set(r.key, off);
        Atomics.store(this.u32, (off + 16) >> 2, r.len);
        Atomics.store(this.u32, (off + 20) >> 2, r.slot + 1);
      });
      Atomics.store(this.u32, G_PREFIX_COUNT >> 2, prefixes.length);
    } finally {
      Atomics.add(this.u32, seq, 1);
    }
    this.routes.clear();
    for (const [k, v] of next) this.routes.set(k, v);
  }
}
