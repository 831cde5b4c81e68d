/**
 * The realm's signed revocation list (src/anchor/revocation.ts encoding): every revoked node id,
 * forever. Revocations are never deleted, so their count is a sequence number that only grows.
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { RevocationKind, signRevocationList } from "../../anchor/revocation.ts";
import type { Authority } from "./authority.ts";

export function signedRevocationList(a: Authority, realm: string, now = Date.now()): Uint8Array {
  const revoked = a.store.revocations(realm);
  return signRevocationList(a.identity, {
    realm,
    issuedAt: Math.floor(now / 1000),
    sequence: revoked.length,
    entries: revoked.map((r) => ({
      kind: RevocationKind.Node,
      id: hexToBytes(r.nodeId),
      until: Number.POSITIVE_INFINITY,
    })),
  });
}
