/**
 * The shared-memory layout between the main thread (control) and the two data-plane loop
 * threads (native). One SharedArrayBuffer holds every region; this file is the single source of
 * truth: the same numbers reach the C code as `-D` defines (see {@link nativeDefines}).
 *
 *   0      GLOBAL    stop flag, control-ring indices, route seqlock, worker status
 *   256    COUNTERS  u64 × 64, each written by exactly one loop, read with Atomics by main
 *   1024   PEERS     MAX_PEERS × 512 bytes (endpoint, allowed sources, keys, per-peer stats)
 *   …      INDEX     receiver-index hash table: INDEX_BUCKETS × {u32 index, u32 ref}
 *   …      HOSTS     host-route hash table: HOST_BUCKETS × {16-byte key, u32 slot+1, u32 pad}
 *   …      PREFIXES  PREFIX_MAX × {16-byte key, u32 prefix length, u32 slot+1}, longest first
 *   …      CTRL      RX → main ring of non-transport datagrams: CTRL_SLOTS × CTRL_SLOT_SIZE
 *   …      LABELS    path-cell label table (relay.c): LABEL_BUCKETS × u32 entry+1, then
 *                    LABEL_MAX × {in slot, in path id, out slot, out path id, u64 cells, u64 bytes}
 *
 * IPv4 route keys are IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix length + 96).
 */

/* Implementation constants */
export const MAX_PEERS = 1024;
export const PEER_SIZE = 1024;
export const INDEX_BUCKETS = 8192;
export const HOST_BUCKETS = 4096;
export const HOST_ENTRY = 24;
export const PREFIX_MAX = 128;
export const PREFIX_ENTRY = 24;
export const CTRL_SLOTS = 1024;
export const CTRL_SLOT_SIZE = 2048;
/** Control-ring slot: | len u32 | addrlen u32 | sockaddr (32) | reserved (8) | datagram … | */
export const CTRL_DATA_OFF = 48;
export const CTRL_MAX_DATAGRAM = CTRL_SLOT_SIZE - CTRL_DATA_OFF;
export const BATCH = 64;
/** Messages per recvmmsg when UDP GRO is on: each is a batch of datagrams up to 64 KiB. */
export const RX_GRO_BATCH = 16;
/** Bits in the RFC 6479 replay ring per receive key; the usable window is 64 bits smaller. */
export const REPLAY_RING_BITS = 4096;
/** Label table: open-addressing buckets (power of two) over a fixed array of entries. */
export const LABEL_BUCKETS = 32_768;
export const LABEL_MAX = 16_384;
export const LABEL_ENTRY = 32;
/** Out slot of a label whose cells are delivered to this node (origin or tail): hand them up. */
export const LABEL_LOCAL = 0xffffffff;
/** Transport header byte 1 of a path cell the RX loop opened and handed up (never valid on the wire). */
export const CELL_OPENED_MARK = 1;

/* Global region (byte offsets, all 32-bit) */
export const G_STOP = 0;
export const G_CTRL_HEAD = 4;
export const G_CTRL_TAIL = 8;
export const G_CTRL_WAKE = 12; // 1 = the main thread was woken for the control ring and has not drained it yet
export const G_ROUTE_SEQ = 16;
export const G_PREFIX_COUNT = 20;
export const G_TX_STATUS = 24;
export const G_RX_STATUS = 28;
export const G_TX_ERRNO = 32;
export const G_RX_ERRNO = 36;
export const G_LABEL_SEQ = 40; // seqlock over the label table (odd = being written)
export const G_LABEL_STRICT = 44; // 1 = the table holds every path of this node: drop unknown labels; 0 = hand them up

/* Regions */
export const COUNTERS_OFF = 256;
export const COUNTER_SLOTS = 64;
export const PEERS_OFF = 1024;
export const INDEX_OFF = PEERS_OFF + MAX_PEERS * PEER_SIZE;
export const HOSTS_OFF = INDEX_OFF + INDEX_BUCKETS * 8;
export const PREFIXES_OFF = HOSTS_OFF + HOST_BUCKETS * HOST_ENTRY;
export const CTRL_OFF = PREFIXES_OFF + PREFIX_MAX * PREFIX_ENTRY;
export const LABEL_BUCKETS_OFF = CTRL_OFF + CTRL_SLOTS * CTRL_SLOT_SIZE;
export const LABEL_ENTRIES_OFF = LABEL_BUCKETS_OFF + LABEL_BUCKETS * 4;
export const SHARED_SIZE = LABEL_ENTRIES_OFF + LABEL_MAX * LABEL_ENTRY;

/* Label entry (byte offsets inside one LABEL_ENTRY) */
export const LE_IN_SLOT = 0;
export const LE_IN_PID = 4;
export const LE_OUT_SLOT = 8; // LABEL_LOCAL = deliver here
export const LE_OUT_PID = 12;
export const LE_CELLS = 16; // u64: cells relayed by RX (the native last-use signal)
export const LE_BYTES = 24;

/* Peer slot (byte offsets inside one PEER_SIZE slot) */
export const PO_SEQ = 0; // seqlock over endpoint + allowed sources (even = stable)
export const PO_ACTIVE = 4;
export const PO_ADDR = 8; // struct sockaddr_in / sockaddr_in6 (≤ 28 bytes)
export const PO_ADDRLEN = 40;
export const PO_V4_NET = 44;
export const PO_V4_LEN = 48; // 255 = no IPv4 source allowed
export const PO_V6_NET = 52;
export const PO_V6_LEN = 68; // 255 = no IPv6 source allowed
export const PO_KA_REQ = 72; // main increments to ask TX for a keepalive
export const PO_KA_DONE = 76; // TX copies PO_KA_REQ after sending it
export const PO_SK_SEQ = 128; // seqlock over the send key block
export const PO_SK_VALID = 132;
export const PO_SK_RECEIVER = 136;
export const PO_SK_START_LO = 140; // first counter of a freshly installed key (u64 split)
export const PO_SK_KEY = 144;
export const PO_SK_COUNTER = 176; // u64: next counter, published by TX
export const PO_RK0 = 192; // two receive key blocks of 64 bytes
export const RK_SIZE = 64;
export const RK_SEQ = 0;
export const RK_VALID = 4;
export const RK_INDEX = 8;
export const RK_KEY = 16;
export const PO_RK_CURRENT = 320;
export const PO_SK_START_HI = 324;
export const PO_TX_PACKETS = 384; // u64 stats written by TX
export const PO_TX_BYTES = 392;
export const PO_TX_NOKEY = 400;
export const PO_RX_AUTH = 408; // u64: authenticated datagrams from the peer, keepalives included (liveness)
export const PO_RX_PACKETS = 416; // u64 stats written by RX
export const PO_RX_BYTES = 424;
export const PO_RX_SRC_SEQ = 432;
export const PO_RX_KEY_USED = 436; // physical receive slot of the last authenticated packet
export const PO_RX_SRC = 440; // sockaddr of the last authenticated datagram (32 bytes)
export const PO_RX_SRC_LEN = 472;
/** Path-cell receive keys, one 64-byte block per physical receive key, under that key's RK_SEQ:
 *  | cell key (type 5, 32) | relay key (type 7, 32) | */
export const PO_XK0 = 512;
export const XK_SIZE = 64;
export const XK_CELL = 0;
export const XK_RELAY = 32;
export const PO_RS_KEY = 640; // relay send key (type 7), under PO_SK_SEQ; receiver = PO_SK_RECEIVER
export const PO_RS_COUNTER = 672; // u64: next relay counter, published by RX (the relay sender)
export const PO_RELAY_PACKETS = 680; // u64: cells relayed to this peer (RX)
export const PO_RELAY_BYTES = 688;

/** Counters written by the TX loop, at indices 0.. of the u64 counter array. */
export const TX_COUNTERS = [
  "txPackets",
  "txBytes",
  "txBatches",
  "txKeepalives",
  "dropTxNoRoute",
  "dropTxNoKey",
  "dropTxMalformed",
  "dropTxTooBig",
  "dropTxCounterExhausted",
  "dropTxSendError",
  "dropTxSealError",
  "dropTxRouteBusy",
  "txTunReadErrors",
  "txTsoReads",
  "txGsoMessages",
  "txGsoFallbacks",
] as const;

/** Counters written by the RX loop, at indices RX_COUNTER_BASE.. */
export const RX_COUNTERS = [
  "rxPackets",
  "rxBytes",
  "rxBatches",
  "rxKeepalives",
  "rxControl",
  "dropRxShort",
  "dropRxMalformedHeader",
  "dropRxUnknownIndex",
  "dropRxReplay",
  "dropRxBadTag",
  "dropRxSpoofed",
  "dropRxMalformedInner",
  "dropRxTruncated",
  "dropRxControlRingFull",
  "dropRxControlTooBig",
  "dropRxTunWriteError",
  "rxRecvErrors",
  "rxGroBatches",
  "rxCoalescedWrites",
  "rxCells",
  "rxRelayed",
  "rxRelayedBytes",
  "rxRelayBatches",
  "dropRxCellMalformed",
  "dropRxCellUnknownLabel",
  "dropRxRelayNoOutKey",
  "dropRxRelayCounterExhausted",
  "dropRxRelaySendError",
  "rxCellLabelBusy",
] as const;
export const RX_COUNTER_BASE = 32;

export type CounterName = (typeof TX_COUNTERS)[number] | (typeof RX_COUNTERS)[number];
export type DataplaneCounters = Record<CounterName, number>;

/** Every counter with its index into the u64 counter array. */
export const COUNTERS: readonly (readonly [CounterName, number])[] = [
  ...TX_COUNTERS.map((n, i) => [n, i] as const),
  ...RX_COUNTERS.map((n, i) => [n, RX_COUNTER_BASE + i] as const),
];

/** C macro name of counter `name`: txPackets → CNT_TX_PACKETS. */
export function counterMacro(name: string): string {
  return `CNT_${name.replace(/([A-Z])/g, "_$1").toUpperCase()}`;
}

/** Every layout number as a `-D` define for the native code. */
export function nativeDefines(): Record<string, string> {
  const d: Record<string, string> = {};
  const self = {
    MAX_PEERS,
    PEER_SIZE,
    INDEX_BUCKETS,
    HOST_BUCKETS,
    HOST_ENTRY,
    PREFIX_MAX,
    PREFIX_ENTRY,
    CTRL_SLOTS,
    CTRL_SLOT_SIZE,
    CTRL_DATA_OFF,
    CTRL_MAX_DATAGRAM,
    BATCH,
    RX_GRO_BATCH,
    REPLAY_RING_BITS,
    LABEL_BUCKETS,
    LABEL_MAX,
    LABEL_ENTRY,
    LABEL_LOCAL,
    CELL_OPENED_MARK,
    LABEL_BUCKETS_OFF,
    LABEL_ENTRIES_OFF,
    LE_IN_SLOT,
    LE_IN_PID,
    LE_OUT_SLOT,
    LE_OUT_PID,
    LE_CELLS,
    LE_BYTES,
    G_LABEL_SEQ,
    G_LABEL_STRICT,
    G_STOP,
    G_CTRL_HEAD,
    G_CTRL_TAIL,
    G_CTRL_WAKE,
    G_ROUTE_SEQ,
    G_PREFIX_COUNT,
    G_TX_STATUS,
    G_RX_STATUS,
    G_TX_ERRNO,
    G_RX_ERRNO,
    COUNTERS_OFF,
    PEERS_OFF,
    INDEX_OFF,
    HOSTS_OFF,
    PREFIXES_OFF,
    CTRL_OFF,
    PO_SEQ,
    PO_ACTIVE,
    PO_ADDR,
    PO_ADDRLEN,
    PO_V4_NET,
    PO_V4_LEN,
    PO_V6_NET,
    PO_V6_LEN,
    PO_KA_REQ,
    PO_KA_DONE,
    PO_SK_SEQ,
    PO_SK_VALID,
    PO_SK_RECEIVER,
    PO_SK_START_LO,
    PO_SK_START_HI,
    PO_SK_KEY,
    PO_SK_COUNTER,
    PO_RK0,
    RK_SIZE,
    RK_SEQ,
    RK_VALID,
    RK_INDEX,
    RK_KEY,
    PO_RK_CURRENT,
    PO_TX_PACKETS,
    PO_TX_BYTES,
    PO_TX_NOKEY,
    PO_RX_AUTH,
    PO_RX_PACKETS,
    PO_RX_BYTES,
    PO_RX_SRC_SEQ,
    PO_RX_KEY_USED,
    PO_RX_SRC,
    PO_RX_SRC_LEN,
    PO_XK0,
    XK_SIZE,
    XK_CELL,
    XK_RELAY,
    PO_RS_KEY,
    PO_RS_COUNTER,
    PO_RELAY_PACKETS,
    PO_RELAY_BYTES,
  };
  for (const [k, v] of Object.entries(self)) d[k] = String(v);
  for (const [name, i] of COUNTERS) d[counterMacro(name)] = String(i);
  return d;
}

/** FNV-1a over the 16-byte route key (the C side computes the same). */
export function routeHash(key: Uint8Array): number {
  let h = 2166136261;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ key[i]!, 16777619) >>> 0;
  return h;
}

/** Label hash over (in slot, in path id) (the C side computes the same). */
export function labelHash(slot: number, pid: number): number {
  return indexHash((pid ^ Math.imul(slot + 1, 0x9e3779b1)) >>> 0);
}

/** Mixer for receiver indices (the C side computes the same). */
export function indexHash(idx: number): number {
  let h = (idx ^ (idx >>> 16)) >>> 0;
  h = Math.imul(h, 0x45d9f3b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
