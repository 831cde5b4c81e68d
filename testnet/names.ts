/**
 * Names of everything a run creates. Every namespace, interface and nft table carries the run
 * prefix, so parallel runs cannot clash and a run's leftovers can be found by name alone.
 *
 *   namespace   <prefix>-<node>          vnab12-h1, vnab12-lan1
 *   veth        <prefix>-<edge><a|b>     vnab12-0a   (≤ 15 bytes: prefix ≤ 8, edge ≤ 9999)
 *   delay tap   <prefix>-<edge><a|b>d    vnab12-0ad
 *   bridge      <prefix>-br              (inside a segment's namespace)
 *   nft tables  inet <prefix> (NAT routers), netdev <prefix> (link conditions)
 */
import { randomBytes } from "node:crypto";
import { MeshUsageError, TopologyError } from "./errors.ts";

/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_IFNAME = 15;
export const MAX_PREFIX = 8;
export const MAX_EDGES = 10_000;
/** Root of the per-run state directories. */
export const STATE_ROOT = process.env.VEILNET_TESTNET_STATE_ROOT ?? "/run/veilnet-testnet";
/** skb mark that tags frames re-injected by a delay forwarder, so the egress hook lets them pass. */
export const DELAY_MARK = 0x5eed;

const PREFIX_RE = /^[a-z][a-z0-9]{0,7}$/;
const NODE_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

export function checkPrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw new MeshUsageError(`prefix must match ${PREFIX_RE} (≤ ${MAX_PREFIX} chars): '${prefix}'`);
  }
  return prefix;
}

/** `vn` followed by four random hex digits. */
export function randomPrefix(): string {
  return `vn${randomBytes(2).toString("hex")}`;
}

export function checkNodeName(name: unknown, what: string): string {
  if (typeof name !== "string" || !NODE_RE.test(name)) {
    throw new TopologyError(`${what} name must match ${NODE_RE}: ${JSON.stringify(name)}`);
  }
  return name;
}

export function netnsName(prefix: string, node: string): string {
  return `${prefix}-${node}`;
}

export function vethName(prefix: string, edge: number, side: 0 | 1): string {
  return checkIfname(`${prefix}-${edge}${side === 0 ? "a" : "b"}`);
}

export function tapName(ifname: string): string {
  return checkIfname(`${ifname}d`);
}

export function bridgeName(prefix: string): string {
  return checkIfname(`${prefix}-br`);
}

/** nft chain names may not contain '-' unquoted; we keep them plain. */
export function chainSuffix(ifname: string): string {
  return ifname.replaceAll("-", "_");
}

function checkIfname(name: string): string {
  if (Buffer.byteLength(name) > MAX_IFNAME) {
    throw new TopologyError(`interface name too long (> ${MAX_IFNAME}): ${name}`);
  }
  return name;
}
