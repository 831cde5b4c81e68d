/**
 * Path-cell keys of one link, derived from the link session's transport keys (same direction):
 *
 *   cell key  = HKDF-SHA-256(ikm = link key, info = CELL_KEY_LABEL)    type 5, PathCell
 *   relay key = HKDF-SHA-256(ikm = link key, info = RELAY_KEY_LABEL)   type 7, RelayCell
 *
 * One side's send key is the other's receive key, so both ends derive matching keys. Each key has
 * exactly one sealer: the link key the TX loop, the cell key the main thread (CellLinks), the relay
 * key the RX loop (native relay); and each receive key one replay window, in the RX loop.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

/* Specification constants */
export const CELL_KEY_LABEL = "veilnet path cell key v1";
export const RELAY_KEY_LABEL = "veilnet path relay key v1";

const encoder = new TextEncoder();

/** Derives the cell key (type 5) for one direction from the link key of the same direction. */
export function cellKey(linkKey: Uint8Array): Uint8Array {
  return hkdf(sha256, linkKey, undefined, encoder.encode(CELL_KEY_LABEL), 32);
}

/** Derives the relay key (type 7) for one direction from the link key of the same direction. */
export function relayKey(linkKey: Uint8Array): Uint8Array {
  return hkdf(sha256, linkKey, undefined, encoder.encode(RELAY_KEY_LABEL), 32);
}
