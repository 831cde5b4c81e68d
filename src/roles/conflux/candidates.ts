/**
 * Candidate underlay endpoints this node advertises (sealed, to one peer at a time): every local
 * non-loopback address, plus the public address Master saw our control connection come from
 * (a NAT usually keeps our UDP source port, so that address with our port is worth a try).
 * Overlay addresses are never candidates: that would tunnel the overlay through itself.
 */
import { networkInterfaces } from "node:os";
import type { Endpoint } from "../../ffi/udp.ts";

const OVERLAY_V4 = /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./; // 100.64.0.0/10

export function localCandidates(
  port: number,
  exclude: ReadonlySet<string>,
  extra: readonly string[],
): Endpoint[] {
  const out = new Map<string, Endpoint>();
  const add = (ip: string) => {
    if (!exclude.has(ip) && !OVERLAY_V4.test(ip)) out.set(ip, { ip, port });
  };
  for (const ip of extra) add(ip);
  for (const [, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.internal || a.family !== "IPv4") continue;
      add(a.address);
    }
  }
  return [...out.values()];
}
