/**
 * Identity-derived IPv6 overlay addresses.
 *
 *   realm prefix  fdGG:GGGG:GGGG::/48   G = 40-bit global id = SHA-256(REALM_LABEL || realm)[0..5]
 *   node address  prefix | subnet 0000 | interface id = SHA-256(NODE_LABEL || u8 len || realm || node id)[0..8]
 *
 * RFC 4193 ULAs. The first byte of the global id is never 0x00, so a realm prefix never falls in
 * fd00::/16 (which holds fd00::/48 and the host's fd00::/64); if the hash gives 0x00 the label is
 * re-hashed with a counter. An all-zero interface id (the subnet-router anycast) is never produced.
 */
import { sha256 } from "./_bytes.ts";
import { IdentityError } from "./errors.ts";
import { isValidRealmId } from "./realm.ts";

/* Specification constants */
export const REALM_PREFIX_LABEL = "veilnet realm ula v1";
export const NODE_IID_LABEL = "veilnet node iid v1";
export const ULA_FIRST_BYTE = 0xfd;
export const REALM_PREFIX_BYTES = 6;

const enc = new TextEncoder();

/** The 6 bytes fd GG GG GG GG GG of the realm's /48. */
export function realmPrefix6Bytes(realmId: string): Uint8Array {
  checkRealm(realmId);
  const realm = enc.encode(realmId);
  for (let counter = 0; ; counter++) {
    const input = new Uint8Array(REALM_PREFIX_LABEL.length + 1 + realm.length);
    input.set(enc.encode(REALM_PREFIX_LABEL));
    input[REALM_PREFIX_LABEL.length] = counter;
    input.set(realm, REALM_PREFIX_LABEL.length + 1);
    const h = sha256(input);
    if (h[0] === 0) continue; // would start with fd00: never use fd00::/16
    const out = new Uint8Array(REALM_PREFIX_BYTES);
    out[0] = ULA_FIRST_BYTE;
    out.set(h.subarray(0, 5), 1);
    return out;
  }
}

/** The realm's ULA prefix as text, for example "fd3a:9c10:42be::/48". */
export function realmPrefix6(realmId: string): string {
  const b = realmPrefix6Bytes(realmId);
  return `${group(b, 0)}:${group(b, 2)}:${group(b, 4)}::/48`;
}

/** The node's 16-byte overlay IPv6 address in its realm. */
export function nodeAddress6Bytes(realmId: string, nodeId: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out.set(realmPrefix6Bytes(realmId), 0);
  const realm = enc.encode(realmId);
  const h = sha256(enc.encode(NODE_IID_LABEL), Uint8Array.of(realm.length), realm, nodeId);
  out.set(h.subarray(0, 8), 8);
  if (out.subarray(8).every((x) => x === 0)) out[15] = 1;
  return out;
}

/** The node's overlay IPv6 address as text (RFC 5952 compressed form). */
export function nodeAddress6(realmId: string, nodeId: Uint8Array): string {
  return formatIPv6(nodeAddress6Bytes(realmId, nodeId));
}

/** RFC 5952 text form of a 16-byte address (longest run of ≥ 2 zero groups compressed). */
export function formatIPv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] as number) << 8) | (b[i + 1] as number));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

function group(b: Uint8Array, i: number): string {
  return (((b[i] as number) << 8) | (b[i + 1] as number)).toString(16);
}

function checkRealm(realmId: string): void {
  if (!isValidRealmId(realmId))
    throw new IdentityError("REALM_ID_INVALID", "realm id must be 1..64 of [A-Za-z0-9._-]");
}
