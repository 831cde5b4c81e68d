/**
 * The overlay (inner) MTU derived from the underlay, so that a full-size inner packet, sealed and
 * sent, never exceeds the underlay link: with segmentation offload every segment is cut to the TUN's
 * MSS, so this one number bounds every datagram the node sends.
 *
 *   inner MTU = underlay MTU − outer IPv6 (40) − UDP (8) − Anchor transport header (16) − tag (16)
 *
 * The IPv6 outer header is assumed whatever the peer's family (as WireGuard does): one MTU for every
 * peer, and 1500 → 1420. The underlay link is the one carrying the default route (IPv4, else IPv6);
 * without a default route, the smallest MTU of the node's other up interfaces.
 */
import { readdirSync, readFileSync } from "node:fs";
import { TRANSPORT_HEADER_SIZE, TRANSPORT_TAG_SIZE } from "../../anchor/transport.ts";

/* Specification constants */
const OUTER_IPV6_HEADER = 40;
const UDP_HEADER = 8;
export const ANCHOR_OUTER_OVERHEAD =
  OUTER_IPV6_HEADER + UDP_HEADER + TRANSPORT_HEADER_SIZE + TRANSPORT_TAG_SIZE;

/* Implementation constants */
const SYS_NET = "/sys/class/net";
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;

export interface UnderlayLink {
  readonly name: string;
  readonly mtu: number;
  /** How the link was chosen (for the start-up log). */
  readonly why: "default route" | "smallest up interface" | "none found";
}

/** The inner MTU for an underlay MTU, clamped to [min, max]. */
export function innerMtuFor(underlayMtu: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, underlayMtu - ANCHOR_OUTER_OVERHEAD));
}

/** The underlay link of this network namespace; `skip` names interfaces to ignore (our own TUNs). */
export function underlayLink(skip: readonly string[] = []): UnderlayLink {
  const viaDefault = defaultRouteInterface();
  if (viaDefault && !skip.includes(viaDefault)) {
    const mtu = readMtu(viaDefault);
    if (mtu !== undefined) return { name: viaDefault, mtu, why: "default route" };
  }
  let best: UnderlayLink | undefined;
  for (const name of listInterfaces()) {
    if (skip.includes(name)) continue;
    const flags = readNumber(`${SYS_NET}/${name}/flags`);
    const mtu = readMtu(name);
    if (flags === undefined || mtu === undefined) continue;
    if ((flags & IFF_LOOPBACK) !== 0 || (flags & IFF_UP) === 0) continue;
    if (!best || mtu < best.mtu) best = { name, mtu, why: "smallest up interface" };
  }
  return best ?? { name: "", mtu: 1500, why: "none found" };
}

/** The interface of the IPv4 default route (/proc/net/route), else of the IPv6 one. */
function defaultRouteInterface(): string | undefined {
  // /proc/net/route: Iface Destination Gateway Flags … with hex fields; destination 0 and mask 0.
  for (const line of readLines("/proc/net/route").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[1] === "00000000" && f[7] === "00000000") return f[0];
  }
  // /proc/net/ipv6_route: dest plen src plen next-hop metric refcnt use flags iface.
  for (const line of readLines("/proc/net/ipv6_route")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && /^0{32}$/.test(f[0]!) && f[1] === "00" && f[9] !== "lo") return f[9];
  }
  return undefined;
}

function listInterfaces(): string[] {
  try {
    return readdirSync(SYS_NET);
  } catch {
    return [];
  }
}

function readMtu(name: string): number | undefined {
  if (!/^[A-Za-z0-9_.@-]{1,15}$/.test(name)) return undefined;
  const mtu = readNumber(`${SYS_NET}/${name}/mtu`);
  return mtu !== undefined && mtu >= 68 && mtu <= 65535 ? mtu : undefined;
}

function readNumber(path: string): number | undefined {
  const text = readLines(path)[0]?.trim();
  if (!text) return undefined;
  const n = text.startsWith("0x") ? Number.parseInt(text.slice(2), 16) : Number(text);
  return Number.isInteger(n) ? n : undefined;
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, "utf8").split("\n");
  } catch {
    return [];
  }
}
