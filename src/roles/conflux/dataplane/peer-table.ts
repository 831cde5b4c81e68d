/**
 * Main-thread writer of the peer slots and the receiver-index table in shared memory.
 * Every multi-word update happens under the slot's seqlock (odd while writing), so the native
 * loops either see the old or the new value, never a mix. Keys are copied in and never read back.
 */

import { createHash } from "node:crypto";
import { parsePrefix } from "../../../ffi/inet.ts";
import { decodeSockaddr, type Endpoint, type SockAddr } from "../../../ffi/udp.ts";
import { cellKey, relayKey } from "./cell-keys.ts";
import { DataplaneConfigError } from "./errors.ts";
import {
  INDEX_BUCKETS,
  INDEX_OFF,
  indexHash,
  MAX_PEERS,
  PEER_SIZE,
  PEERS_OFF,
  PO_ACTIVE,
  PO_ADDR,
  PO_ADDRLEN,
  PO_KA_REQ,
  PO_RELAY_BYTES,
  PO_RELAY_PACKETS,
  PO_RK_CURRENT,
  PO_RK0,
  PO_RS_COUNTER,
  PO_RS_KEY,
  PO_RX_AUTH,
  PO_RX_BYTES,
  PO_RX_KEY_USED,
  PO_RX_PACKETS,
  PO_RX_SRC,
  PO_RX_SRC_LEN,
  PO_RX_SRC_SEQ,
  PO_SEQ,
  PO_SK_COUNTER,
  PO_SK_KEY,
  PO_SK_RECEIVER,
  PO_SK_SEQ,
  PO_SK_START_HI,
  PO_SK_START_LO,
  PO_SK_VALID,
  PO_TX_BYTES,
  PO_TX_NOKEY,
  PO_TX_PACKETS,
  PO_V4_LEN,
  PO_V4_NET,
  PO_V6_LEN,
  PO_V6_NET,
  PO_XK0,
  RK_INDEX,
  RK_KEY,
  RK_SEQ,
  RK_SIZE,
  RK_VALID,
  XK_CELL,
  XK_RELAY,
  XK_SIZE,
} from "./layout.ts";
import { KEY_SIZE } from "./wire.ts";

const NO_PREFIX = 255;

function keyDigest(key: Uint8Array): string {
  return createHash("sha256").update(key).digest("hex");
}

export interface PeerStats {
  readonly txPackets: number;
  readonly txBytes: number;
  readonly txNoKey: number;
  readonly rxPackets: number;
  readonly rxBytes: number;
  /** Authenticated datagrams from the peer, keepalives included: the liveness signal. */
  readonly rxAuthenticated: number;
  /** The next send counter of the current send key (rekey before 2^60). */
  readonly sendCounter: bigint;
  /** Which receive key authenticated the last packet: the one installed last or the one before. */
  readonly lastRxKey: "current" | "previous" | "none";
  /** Underlay source of the last authenticated datagram (for roaming decisions). */
  readonly lastRxEndpoint: Endpoint | null;
  /** Path cells the RX loop relayed to this peer (type 7) and their cell bytes. */
  readonly relayPackets: number;
  readonly relayBytes: number;
  /** The next relay send counter (the RX loop owns it). */
  readonly relayCounter: number;
}

export class PeerTable {
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly u64: BigUint64Array;
  /** localIndex → ref (slot·2 + physical key + 1), mirrored from the shared table. */
  private readonly indexOwner = new Map<number, number>();
  /** SHA-256 digests of every send key installed so far. */
  private readonly usedSendKeys = new Set<string>();

  constructor(sab: SharedArrayBuffer) {
    this.u8 = new Uint8Array(sab);
    this.u32 = new Uint32Array(sab);
    this.i32 = new Int32Array(sab);
    this.u64 = new BigUint64Array(sab);
  }

  static checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_PEERS) {
      throw new DataplaneConfigError("DP_BAD_SLOT", `peer slot must be 0..${MAX_PEERS - 1}, got ${slot}`);
    }
  }

  private base(slot: number): number {
    return PEERS_OFF + slot * PEER_SIZE;
  }
  private w32(off: number, v: number): void {
    Atomics.store(this.u32, off >> 2, v >>> 0);
  }
  private r32(off: number): number {
    return Atomics.load(this.u32, off >> 2);
  }
  private r64(off: number): bigint {
    return Atomics.load(this.u64, off >> 3);
  }
  /** Runs `write` with the seqlock at `seqOff` odd. */
  private locked(seqOff: number, write: () => void): void {
    Atomics.add(this.i32, seqOff >> 2, 1);
    try {
      write();
    } finally {
      Atomics.add(this.i32, seqOff >> 2, 1);
    }
  }

  /** The peer slot whose live receive key has `localIndex`, or -1. */
  slotOfIndex(localIndex: number): number {
    const ref = this.indexOwner.get(localIndex >>> 0);
    return ref === undefined ? -1 : (ref - 1) >> 1;
  }

  isActive(slot: number): boolean {
    return this.r32(this.base(slot) + PO_ACTIVE) === 1;
  }

  /** Endpoint and allowed inner sources; activates the slot. */
  setEndpoint(slot: number, ep: SockAddr, allowedV4?: string, allowedV6?: string): void {
    const b = this.base(slot);
    const v4 = allowedV4 === undefined ? null : parsePrefix(allowedV4);
    const v6 = allowedV6 === undefined ? null : parsePrefix(allowedV6);
    if (v4 && v4.family !== 4) throw new DataplaneConfigError("DP_BAD_ALLOWED", `not IPv4: ${allowedV4}`);
    if (v6 && v6.family !== 6) throw new DataplaneConfigError("DP_BAD_ALLOWED", `not IPv6: ${allowedV6}`);
    this.locked(b + PO_SEQ, () => {
      this.u8.set(ep.bytes.subarray(0, 32), b + PO_ADDR);
      this.w32(b + PO_ADDRLEN, ep.len);
      this.u8.fill(0, b + PO_V4_NET, b + PO_V4_NET + 4);
      this.u8.fill(0, b + PO_V6_NET, b + PO_V6_NET + 16);
      if (v4) this.u8.set(v4.bytes, b + PO_V4_NET);
      if (v6) this.u8.set(v6.bytes, b + PO_V6_NET);
      this.w32(b + PO_V4_LEN, v4 ? v4.prefixLen : NO_PREFIX);
      this.w32(b + PO_V6_LEN, v6 ? v6.prefixLen : NO_PREFIX);
    });
    this.w32(b + PO_ACTIVE, 1);
  }

  /** Moves a peer to a new underlay endpoint (roaming) without touching keys. */
  updateEndpoint(slot: number, ep: SockAddr): void {
    const b = this.base(slot);
    this.locked(b + PO_SEQ, () => {
      this.u8.set(ep.bytes.subarray(0, 32), b + PO_ADDR);
      this.w32(b + PO_ADDRLEN, ep.len);
    });
  }

  /** Throws unless `key` may become a send key: 32 bytes and never installed before here. */
  checkSendKey(key: Uint8Array): void {
    if (key.length !== KEY_SIZE) throw new DataplaneConfigError("DP_BAD_KEY", "send key must be 32 bytes");
    if (this.usedSendKeys.has(keyDigest(key))) {
      throw new DataplaneConfigError(
        "DP_SEND_KEY_REUSED",
        "this send key was installed before (nonce reuse)",
      );
    }
  }

  /**
   * Installs a send key; its counter starts at `start` (0 for a fresh key). A key that was ever
   * installed on this data plane is refused: its counters would repeat nonces.
   */
  installSendKey(slot: number, key: Uint8Array, receiver: number, start = 0n): void {
    this.checkSendKey(key);
    const b = this.base(slot);
    const relay = relayKey(key);
    this.locked(b + PO_SK_SEQ, () => {
      this.u8.set(key, b + PO_SK_KEY);
      this.u8.set(relay, b + PO_RS_KEY);
      this.w32(b + PO_SK_RECEIVER, receiver);
      this.w32(b + PO_SK_START_LO, Number(start & 0xffffffffn));
      this.w32(b + PO_SK_START_HI, Number(start >> 32n));
      this.w32(b + PO_SK_VALID, 1);
    });
    this.usedSendKeys.add(keyDigest(key));
  }

  /**
   * Installs a receive key under `localIndex`. The previous receive key stays valid (two physical
   * key slots alternate) so packets sealed before the peer switched still open; the one before
   * that is retired. Each physical slot keeps its own replay window.
   */
  installRecvKey(slot: number, key: Uint8Array, localIndex: number): void {
    if (key.length !== KEY_SIZE) throw new DataplaneConfigError("DP_BAD_KEY", "receive key must be 32 bytes");
    if (!Number.isInteger(localIndex) || localIndex < 0 || localIndex > 0xffffffff) {
      throw new DataplaneConfigError("DP_BAD_INDEX", `bad local index ${localIndex}`);
    }
    const b = this.base(slot);
    const owner = this.indexOwner.get(localIndex);
    const current = this.r32(b + PO_RK_CURRENT);
    const curValid = this.r32(b + PO_RK0 + current * RK_SIZE + RK_VALID) === 1;
    if (owner !== undefined) {
      throw new DataplaneConfigError("DP_INDEX_IN_USE", `local index ${localIndex} is already in use`);
    }
    const phys = curValid ? 1 - current : 0;
    this.retireRecvKey(slot, phys);
    const kb = b + PO_RK0 + phys * RK_SIZE;
    const xb = b + PO_XK0 + phys * XK_SIZE;
    const cell = cellKey(key);
    const relay = relayKey(key);
    this.locked(kb + RK_SEQ, () => {
      this.u8.set(key, kb + RK_KEY);
      this.u8.set(cell, xb + XK_CELL);
      this.u8.set(relay, xb + XK_RELAY);
      this.w32(kb + RK_INDEX, localIndex);
      this.w32(kb + RK_VALID, 1);
    });
    this.indexInsert(localIndex, slot * 2 + phys + 1);
    this.w32(b + PO_RK_CURRENT, phys);
  }

  private retireRecvKey(slot: number, phys: number): void {
    const kb = this.base(slot) + PO_RK0 + phys * RK_SIZE;
    if (this.r32(kb + RK_VALID) !== 1) return;
    const idx = this.r32(kb + RK_INDEX);
    const xb = this.base(slot) + PO_XK0 + phys * XK_SIZE;
    this.locked(kb + RK_SEQ, () => {
      this.w32(kb + RK_VALID, 0);
      this.u8.fill(0, kb + RK_KEY, kb + RK_KEY + KEY_SIZE);
      this.u8.fill(0, xb, xb + XK_SIZE);
    });
    if (this.indexOwner.get(idx) === slot * 2 + phys + 1) this.indexRemove(idx);
  }

  /** Deactivates the slot, wipes its keys and frees its receiver indices. */
  remove(slot: number): void {
    const b = this.base(slot);
    this.w32(b + PO_ACTIVE, 0);
    this.retireRecvKey(slot, 0);
    this.retireRecvKey(slot, 1);
    this.locked(b + PO_SK_SEQ, () => {
      this.w32(b + PO_SK_VALID, 0);
      this.u8.fill(0, b + PO_SK_KEY, b + PO_SK_KEY + KEY_SIZE);
      this.u8.fill(0, b + PO_RS_KEY, b + PO_RS_KEY + KEY_SIZE);
    });
  }

  requestKeepalive(slot: number): void {
    Atomics.add(this.u32, (this.base(slot) + PO_KA_REQ) >> 2, 1);
  }

  stats(slot: number): PeerStats {
    const b = this.base(slot);
    const used = this.r32(b + PO_RX_KEY_USED);
    const rxPackets = Number(this.r64(b + PO_RX_PACKETS));
    let lastRxEndpoint: Endpoint | null = null;
    for (let tries = 0; tries < 100; tries++) {
      const s1 = this.r32(b + PO_RX_SRC_SEQ);
      if (s1 & 1) continue;
      const len = this.r32(b + PO_RX_SRC_LEN);
      const copy = this.u8.slice(b + PO_RX_SRC, b + PO_RX_SRC + 32);
      if (this.r32(b + PO_RX_SRC_SEQ) !== s1) continue;
      lastRxEndpoint = len ? decodeSockaddr(copy, len) : null;
      break;
    }
    return {
      txPackets: Number(this.r64(b + PO_TX_PACKETS)),
      txBytes: Number(this.r64(b + PO_TX_BYTES)),
      txNoKey: Number(this.r64(b + PO_TX_NOKEY)),
      rxPackets,
      rxBytes: Number(this.r64(b + PO_RX_BYTES)),
      rxAuthenticated: Number(this.r64(b + PO_RX_AUTH)),
      sendCounter: this.r64(b + PO_SK_COUNTER),
      lastRxKey:
        lastRxEndpoint === null ? "none" : used === this.r32(b + PO_RK_CURRENT) ? "current" : "previous",
      lastRxEndpoint,
      relayPackets: Number(this.r64(b + PO_RELAY_PACKETS)),
      relayBytes: Number(this.r64(b + PO_RELAY_BYTES)),
      relayCounter: Number(this.r64(b + PO_RS_COUNTER)),
    };
  }

  /* Receiver-index hash table: linear probing, entries {u32 index, u32 ref} as one u64 store. */

  private indexSlot(i: number): number {
    return (INDEX_OFF >> 3) + (i & (INDEX_BUCKETS - 1));
  }

  private indexInsert(idx: number, ref: number): void {
    if (this.indexOwner.size >= INDEX_BUCKETS / 2) {
      throw new DataplaneConfigError("DP_INDEX_FULL", "receiver index table is full");
    }
    let i = indexHash(idx);
    for (;;) {
      const e = Atomics.load(this.u64, this.indexSlot(i));
      if (e >> 32n === 0n) break;
      i++;
    }
    Atomics.store(this.u64, this.indexSlot(i), (BigInt(ref) << 32n) | BigInt(idx >>> 0));
    this.indexOwner.set(idx, ref);
  }

  /** Backward-shift deletion (no tombstones); a concurrent reader may miss one packet. */
  private indexRemove(idx: number): void {
    let i = indexHash(idx);
    for (let n = 0; ; n++, i++) {
      if (n === INDEX_BUCKETS) return;
      const e = Atomics.load(this.u64, this.indexSlot(i));
      if (e >> 32n === 0n) return;
      if (Number(e & 0xffffffffn) === idx) break;
    }
    this.indexOwner.delete(idx);
    let hole = i;
    for (let j = i + 1; ; j++) {
      const e = Atomics.load(this.u64, this.indexSlot(j));
      if (e >> 32n === 0n) break;
      const home = indexHash(Number(e & 0xffffffffn));
      const dist = (x: number) => (x - home) & (INDEX_BUCKETS - 1);
      if (dist(hole) < dist(j)) {
        Atomics.store(this.u64, this.indexSlot(hole), e);
        hole = j;
      }
    }
    Atomics.store(this.u64, this.indexSlot(hole), 0n);
  }
}
