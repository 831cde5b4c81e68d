/**
 * Verified public keys of other nodes (and Guardian), by node id. Filled by role code after it has
 * verified a certificate (e.g. from a presence message) or pinned a key; never from unverified
 * input. Caches the Ed25519 KeyObject so the cheap half of a hybrid signature is checked first
 * without re-parsing the key per message. Bounded: the least recently added entries go first.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { nodeIdOf, type PublicKeys } from "../anchor/identity.ts";

/* Implementation constants */
export const KEY_DIRECTORY_MAX = 100_000;
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface PeerKeys {
  readonly nodeIdHex: string;
  readonly keys: PublicKeys;
  readonly ed25519: KeyObject;
}

export class KeyDirectory {
  readonly #peers = new Map<string, PeerKeys>();
  readonly #max: number;

  constructor(max: number = KEY_DIRECTORY_MAX) {
    this.#max = max;
  }

  /** Adds keys whose certificate the caller has verified; returns the node id (hex) they hash to. */
  add(keys: PublicKeys): PeerKeys {
    const nodeIdHex = Buffer.from(nodeIdOf(keys)).toString("hex");
    const existing = this.#peers.get(nodeIdHex);
    if (existing) return existing;
    const ed25519 = createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, keys.ed25519]),
      format: "der",
      type: "spki",
    });
    const entry: PeerKeys = Object.freeze({ nodeIdHex, keys, ed25519 });
    if (this.#peers.size >= this.#max) {
      const oldest = this.#peers.keys().next().value;
      if (oldest !== undefined) this.#peers.delete(oldest);
    }
    this.#peers.set(nodeIdHex, entry);
    return entry;
  }

  get(nodeIdHex: string): PeerKeys | undefined {
    return this.#peers.get(nodeIdHex);
  }

  /** Forgets a node (revocation, key invalidation). */
  remove(nodeIdHex: string): boolean {
    return this.#peers.delete(nodeIdHex);
  }

  get size(): number {
    return this.#peers.size;
  }
}
