/**
 * Overlay IPv4 addresses: every realm has the whole shared address space 100.64.0.0/10 (RFC 6598) to
 * itself (realms never exchange packets). A node's address is a stable function of (realm, node id):
 * the first free slot from a hash-chosen start, so re-enrolment and renewal keep it and collisions
 * only move the newcomer. The database stores the 22-bit offset; UNIQUE(realm, ipv4) keeps it unique.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { GuardianError } from "./errors.ts";

/* Specification constants */
export const OVERLAY_IPV4_BASE = (100 << 24) | (64 << 16); // 100.64.0.0
export const OVERLAY_IPV4_PREFIX = 10;
export const OVERLAY_IPV4_SIZE = 1 << (32 - OVERLAY_IPV4_PREFIX); // 4 194 304 offsets

/* Implementation constants */
const ALLOCATION_LABEL = "veilnet overlay ipv4 v1";
const MAX_PROBES = 1 << 16;

/** Offsets whose last octet is 0 or 255 are skipped (some stacks treat them as network/broadcast). */
export function usableOffset(offset: number): boolean {
  const low = offset & 0xff;
  return offset > 0 && offset < OVERLAY_IPV4_SIZE && low !== 0 && low !== 255;
}

/** The first usable offset, probing linearly from the hash of (realm, node id), that `taken` rejects not. */
export function allocateIpv4(realm: string, nodeId: string, taken: (offset: number) => boolean): number {
  const h = sha256(new TextEncoder().encode(`${ALLOCATION_LABEL}\0${realm}\0${nodeId}`));
  let offset = ((h[0]! << 16) | (h[1]! << 8) | h[2]!) % OVERLAY_IPV4_SIZE;
  for (let probe = 0; probe < MAX_PROBES; probe++) {
    if (usableOffset(offset) && !taken(offset)) return offset;
    offset = (offset + 1) % OVERLAY_IPV4_SIZE;
  }
  throw new GuardianError("IPV4_EXHAUSTED", `no free overlay IPv4 address in realm ${realm}`, 503);
}

export function ipv4String(offset: number): string {
  const a = (OVERLAY_IPV4_BASE + offset) >>> 0;
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}
