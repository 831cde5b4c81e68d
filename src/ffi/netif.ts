/**
 * Interface configuration through rtnetlink (no `ip` subprocess): link up/down, MTU,
 * IPv4/IPv6 addresses, and routes.
 */
import { FfiArgumentError } from "./errors.ts";
import { type IpPrefix, maskPrefix, parseIp, parsePrefix } from "./inet.ts";
import { AF_INET, AF_INET6, ifNameToIndex } from "./libc.ts";
import {
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NlMessage,
  RTM_DELADDR,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  rtnlRequest,
} from "./netlink.ts";

/* Specification constants (if.h, if_addr.h, rtnetlink.h) */
const IFF_UP = 0x1;
const IFLA_MTU = 4;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_F_NODAD = 0x02;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_TABLE = 15;
const RT_TABLE_MAIN = 254;
const RTPROT_STATIC = 4;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;

/** Index of interface `name`; throws FfiArgumentError when it does not exist. */
export function linkIndex(name: string): number {
  const idx = ifNameToIndex(name);
  if (idx === 0) throw new FfiArgumentError("FFI_NO_SUCH_LINK", `no such interface: '${name}'`);
  return idx;
}

function ifinfomsg(index: number, flags: number, change: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint8(0, 0); // AF_UNSPEC
  v.setInt32(4, index, true);
  v.setUint32(8, flags, true);
  v.setUint32(12, change, true);
  return b;
}

/** Brings the link up (or down). */
export function setLinkUp(name: string, up = true): void {
  const msg = new NlMessage(RTM_NEWLINK, 0, ifinfomsg(linkIndex(name), up ? IFF_UP : 0, IFF_UP));
  rtnlRequest(msg, `link ${name} ${up ? "up" : "down"}`);
}

/** Sets the link MTU. */
export function setMtu(name: string, mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new FfiArgumentError("FFI_BAD_MTU", `MTU out of range: ${mtu}`);
  }
  const msg = new NlMessage(RTM_NEWLINK, 0, ifinfomsg(linkIndex(name), 0, 0)).attrU32(IFLA_MTU, mtu);
  rtnlRequest(msg, `mtu ${name} ${mtu}`);
}

function ifaddrmsg(p: IpPrefix, index: number, flags: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, p.family === 4 ? AF_INET : AF_INET6);
  v.setUint8(1, p.prefixLen);
  v.setUint8(2, flags);
  v.setUint8(3, RT_SCOPE_UNIVERSE);
  v.setUint32(4, index, true);
  return b;
}

/**
 * Adds `cidr` (e.g. `100.64.1.1/24` or `fd3c:…::1/64`) to `name`. IPv6 addresses skip duplicate
 * address detection so they are usable at once. Throws ErrnoError EEXIST if already present.
 */
export function addAddress(name: string, cidr: string): void {
  const p = parsePrefix(cidr);
  const msg = new NlMessage(
    RTM_NEWADDR,
    NLM_F_CREATE | NLM_F_EXCL,
    ifaddrmsg(p, linkIndex(name), IFA_F_NODAD),
  )
    .attr(IFA_LOCAL, p.bytes)
    .attr(IFA_ADDRESS, p.bytes);
  rtnlRequest(msg, `address ${cidr} on ${name}`);
}

/** Removes `cidr` from `name`. */
export function removeAddress(name: string, cidr: string): void {
  const p = parsePrefix(cidr);
  const msg = new NlMessage(RTM_DELADDR, 0, ifaddrmsg(p, linkIndex(name), 0))
    .attr(IFA_LOCAL, p.bytes)
    .attr(IFA_ADDRESS, p.bytes);
  rtnlRequest(msg, `remove address ${cidr} from ${name}`);
}

export interface RouteSpec {
  /** Destination prefix, e.g. `100.64.0.0/10` or `fd3c:1::/48`. */
  readonly dst: string;
  /** Output interface. */
  readonly dev: string;
  /** Optional next hop of the same family. */
  readonly gateway?: string;
  readonly metric?: number;
  /** Routing table id (default main, 254). */
  readonly table?: number;
  /** Replace an existing route instead of failing with EEXIST. */
  readonly replace?: boolean;
}

function routeMessage(type: number, flags: number, r: RouteSpec): NlMessage {
  const p = parsePrefix(r.dst);
  const gw = r.gateway === undefined ? null : parseIp(r.gateway);
  if (r.gateway !== undefined && (!gw || gw.family !== p.family)) {
    throw new FfiArgumentError("FFI_BAD_GATEWAY", `gateway '${r.gateway}' does not match ${r.dst}`);
  }
  const table = r.table ?? RT_TABLE_MAIN;
  const b = new Uint8Array(12);
  b[0] = p.family === 4 ? AF_INET : AF_INET6;
  b[1] = p.prefixLen;
  b[4] = table < 256 ? table : 0;
  b[5] = RTPROT_STATIC;
  b[6] = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  b[7] = RTN_UNICAST;
  const msg = new NlMessage(type, flags, b).attrU32(RTA_OIF, linkIndex(r.dev));
  if (p.prefixLen > 0) msg.attr(RTA_DST, maskPrefix(p.bytes, p.prefixLen));
  if (gw) msg.attr(RTA_GATEWAY, gw.bytes);
  if (r.metric !== undefined) msg.attrU32(RTA_PRIORITY, r.metric);
  if (table >= 256) msg.attrU32(RTA_TABLE, table);
  return msg;
}

/** Adds a route (IPv4 or IPv6) through `dev`. Throws ErrnoError EEXIST unless `replace`. */
export function addRoute(r: RouteSpec): void {
  const flags = NLM_F_CREATE | (r.replace ? NLM_F_REPLACE : NLM_F_EXCL);
  rtnlRequest(routeMessage(RTM_NEWROUTE, flags, r), `route ${r.dst} dev ${r.dev}`);
}

/** Removes a route previously added with the same spec. */
export function removeRoute(r: RouteSpec): void {
  rtnlRequest(routeMessage(RTM_DELROUTE, 0, r), `remove route ${r.dst} dev ${r.dev}`);
}

export interface InterfaceConfig {
  /** CIDR addresses of either family. */
  readonly addresses?: readonly string[];
  readonly mtu?: number;
  /** Bring the link up (default true). */
  readonly up?: boolean;
}

/** MTU, addresses, then link up — the usual order for a fresh TUN. */
export function configureInterface(name: string, cfg: InterfaceConfig): void {
  if (cfg.mtu !== undefined) setMtu(name, cfg.mtu);
  for (const a of cfg.addresses ?? []) addAddress(name, a);
  if (cfg.up ?? true) setLinkUp(name, true);
}
