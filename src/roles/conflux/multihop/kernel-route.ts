/**
 * Host routes (/32, /128) onto the path TUN through rtnetlink, with a preferred source address
 * (RTA_PREFSRC), so the kernel stamps locally generated packets with the node's overlay address
 * even though the path TUN itself carries no address. src/ffi's addRoute has no prefsrc; this is
 * the same message with one more attribute.
 */
import { linkIndex } from "../../../ffi/index.ts";
import { parseIp } from "../../../ffi/inet.ts";
import {
  NLM_F_CREATE,
  NLM_F_REPLACE,
  NlMessage,
  RTM_DELROUTE,
  RTM_NEWROUTE,
  rtnlRequest,
} from "../../../ffi/netlink.ts";
import { MultihopError } from "./errors.ts";

/* Specification constants (rtnetlink.h) */
const AF_INET = 2;
const AF_INET6 = 10;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_PREFSRC = 7;
const RT_TABLE_MAIN = 254;
const RTPROT_STATIC = 4;
const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;

function message(type: number, flags: number, dst: string, dev: string, src: string): NlMessage {
  const d = parseIp(dst);
  const s = parseIp(src);
  if (!d || !s || d.family !== s.family)
    throw new MultihopError("MULTIHOP_BAD_ROUTE", `bad route ${dst} src ${src}`);
  const b = new Uint8Array(12);
  b[0] = d.family === 4 ? AF_INET : AF_INET6;
  b[1] = d.family === 4 ? 32 : 128;
  b[4] = RT_TABLE_MAIN;
  b[5] = RTPROT_STATIC;
  b[6] = RT_SCOPE_LINK;
  b[7] = RTN_UNICAST;
  return new NlMessage(type, flags, b)
    .attrU32(RTA_OIF, linkIndex(dev))
    .attr(RTA_DST, d.bytes)
    .attr(RTA_PREFSRC, s.bytes);
}

/** Routes the host address `dst` to `dev` with source `src` (replacing any same route). */
export function addHostRoute(dst: string, dev: string, src: string): void {
  rtnlRequest(message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, dst, dev, src), `route ${dst} dev ${dev}`);
}

/** Removes the host route; false if it was not there. */
export function removeHostRoute(dst: string, dev: string, src: string): boolean {
  try {
    rtnlRequest(message(RTM_DELROUTE, 0, dst, dev, src), `remove route ${dst} dev ${dev}`);
    return true;
  } catch {
    return false;
  }
}
