/**
 * The agent names nodes by a small integer (rl/types.ts `NodeId`): here the node's certified
 * overlay IPv4 address as a u32, unique in a realm (Guardian assigns it). This maps those numbers,
 * and overlay addresses found in packets, to the peers the node learned from signed presence.
 */
import { formatIPv6 } from "../../../anchor/address6.ts";
import { type Certificate, formatIPv4 } from "../../../anchor/certificate.ts";
import type { HopInfo } from "../../../anchor/path/hop-key.ts";
import type { NodeId } from "../../../rl/types.ts";

export interface DirectoryEntry {
  readonly id: NodeId;
  readonly idHex: string;
  readonly cert: Certificate;
  readonly ipv4: string;
  readonly ipv6: string;
}

export function nodeIdOfIPv4(b: Uint8Array, off = 0): NodeId {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function ipv6Key(b: Uint8Array, off = 0): string {
  return Buffer.from(b.subarray(off, off + 16)).toString("hex");
}

export class Directory {
  readonly #byId = new Map<NodeId, DirectoryEntry>();
  readonly #byHex = new Map<string, DirectoryEntry>();
  readonly #byV6 = new Map<string, DirectoryEntry>();

  /** Adds or refreshes a node from its verified certificate. */
  learn(cert: Certificate): DirectoryEntry {
    const idHex = Buffer.from(cert.nodeId).toString("hex");
    const old = this.#byHex.get(idHex);
    if (old && old.cert === cert) return old;
    if (old) this.#forget(old);
    const e: DirectoryEntry = {
      id: nodeIdOfIPv4(cert.ipv4),
      idHex,
      cert,
      ipv4: formatIPv4(cert.ipv4),
      ipv6: formatIPv6(cert.ipv6),
    };
    this.#byId.set(e.id, e);
    this.#byHex.set(idHex, e);
    this.#byV6.set(ipv6Key(cert.ipv6), e);
    return e;
  }

  byId(id: NodeId): DirectoryEntry | undefined {
    return this.#byId.get(id);
  }

  byHex(idHex: string): DirectoryEntry | undefined {
    return this.#byHex.get(idHex);
  }

  /** The node a packet's address (at `off` in `pkt`, IPv4 if `v4`) belongs to. */
  byAddress(pkt: Uint8Array, off: number, v4: boolean): DirectoryEntry | undefined {
    return v4 ? this.#byId.get(nodeIdOfIPv4(pkt, off)) : this.#byV6.get(ipv6Key(pkt, off));
  }

  hopInfo(id: NodeId): HopInfo | null {
    const e = this.#byId.get(id);
    if (!e) return null;
    return { nodeId: e.cert.nodeId, x25519: e.cert.publicKeys.x25519, mlkem768: e.cert.publicKeys.mlkem768 };
  }

  name(id: NodeId): string {
    return this.#byId.get(id)?.ipv4 ?? String(id);
  }

  #forget(e: DirectoryEntry): void {
    if (this.#byId.get(e.id) === e) this.#byId.delete(e.id);
    this.#byHex.delete(e.idHex);
    const k = ipv6Key(e.cert.ipv6);
    if (this.#byV6.get(k) === e) this.#byV6.delete(k);
  }
}
