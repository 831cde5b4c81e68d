/**
 * The embedded packet plane: the PacketIO of a Conflux node that runs inside an application,
 * without TUN and without root. One UDP socket on the event loop, Anchor transport in TypeScript
 * (src/anchor), the same wire bytes and the same rules as the native plane (dataplane.c): receiver
 * index → key, AEAD open in place, replay window only after authentication, the inner source must
 * lie in the peer's certified prefix. Inner IP packets go to `onPacket` handlers instead of a TUN.
 *
 * @example
 * const plane = await EmbeddedPlane.start({ udpPort: 0 });
 * plane.onPacket((pkt) => console.log("got", pkt.length)); // raw IPv4/IPv6 packets from peers
 * plane.send(ipPacket);                                       // routed by destination to a peer
 */
import type { AeadBackend } from "../../../anchor/aead/aead.ts";
import { chooseAead } from "../../../anchor/aead/choose.ts";
import { MsgType } from "../../../anchor/message-type.ts";
import {
  COUNTER_LIMIT,
  openTransport,
  readCounter,
  readReceiver,
  sealTransport,
  TRANSPORT_HEADER_SIZE,
  TRANSPORT_MIN_SIZE,
  TRANSPORT_TAG_SIZE,
} from "../../../anchor/transport.ts";
import type { Endpoint } from "../../../ffi/udp.ts";
import type { PeerConfig, SessionKeys } from "../dataplane/dataplane.ts";
import type { PeerStats } from "../dataplane/peer-table.ts";
import type { PacketIO } from "../packet-io.ts";
import { EmbeddedConfigError } from "./errors.ts";
import { answerProbe, type CellKeys, deriveCellKeys, destroyCellKeys } from "./link-probes.ts";
import {
  type Allowed,
  allowedPrefix,
  checkIndex,
  createKey,
  PeerSlot,
  RecvKey,
  SendKey,
} from "./peer-keys.ts";
import { prefixMatch, RouteTable } from "./routes.ts";
import { openPlaneSocket, type PlaneSocket } from "./udp-socket.ts";

/* Implementation constants */
export const EMBEDDED_DEFAULT_MTU = 1420;
export const MAX_SLOTS = 1024;
/** Requested SO_RCVBUF/SO_SNDBUF (the kernel caps it at net.core.rmem_max for a non-root user). */
export const EMBEDDED_SOCKET_BUFFER = 4 << 20;

export type PacketHandler = (packet: Uint8Array) => void;
export type ControlHandler = (datagram: Uint8Array, from: Endpoint) => void;

export interface EmbeddedPlaneOptions {
  readonly udpPort: number;
  /** Default `0.0.0.0`. */
  readonly bindAddress?: string;
  /** Largest inner packet (default 1420, as the TUN's MTU). */
  readonly mtu?: number;
  readonly socketBuffer?: number;
  /** AEAD backend (default: the fastest AES-256-GCM one here). */
  readonly backend?: AeadBackend;
}

const COUNTER_NAMES = [
  "txPackets",
  "txBytes",
  "txKeepalives",
  "dropTxNoRoute",
  "dropTxNoKey",
  "dropTxMalformed",
  "dropTxTooBig",
  "dropTxCounterExhausted",
  "dropTxSendError",
  "rxPackets",
  "rxBytes",
  "rxKeepalives",
  "rxControl",
  "dropRxShort",
  "dropRxMalformedHeader",
  "dropRxUnknownIndex",
  "dropRxReplay",
  "dropRxBadTag",
  "dropRxSpoofed",
  "dropRxMalformedInner",
  "packetHandlerErrors",
  "controlHandlerErrors",
  "socketErrors",
  "linkProbesAnswered",
] as const;
export type EmbeddedCounterName = (typeof COUNTER_NAMES)[number];

export class EmbeddedPlane implements PacketIO {
  readonly #slots: (PeerSlot | undefined)[] = new Array(MAX_SLOTS);
  /** receiver index → slot·2 + physical key. */
  readonly #index = new Map<number, number>();
  readonly #routes = new RouteTable();
  readonly #usedSendKeys = new Set<string>();
  readonly #packetHandlers: PacketHandler[] = [];
  #controlHandler: ControlHandler | null = null;
  readonly #c: Record<EmbeddedCounterName, number>;
  /** Outgoing message buffer: header | inner packet | tag. Callers may build packets in place here. */
  readonly #tx: Uint8Array;
  /** Cell keys per receiver index (slot·2 + physical key), for answering link probes. */
  readonly #cells = new Map<number, CellKeys>();
  readonly #probeOut = new Uint8Array(new ArrayBuffer(64));
  #stopped = false;

  private constructor(
    readonly socket: PlaneSocket,
    readonly mtu: number,
    readonly backend: AeadBackend,
  ) {
    this.#c = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Record<EmbeddedCounterName, number>;
    this.#tx = new Uint8Array(new ArrayBuffer(TRANSPORT_HEADER_SIZE + mtu + TRANSPORT_TAG_SIZE));
  }

  static async start(o: EmbeddedPlaneOptions): Promise<EmbeddedPlane> {
    const mtu = o.mtu ?? EMBEDDED_DEFAULT_MTU;
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65_000) {
      throw new EmbeddedConfigError("EMB_BAD_MTU", `MTU out of range: ${mtu}`);
    }
    const backend = o.backend ?? chooseAead();
    let plane: EmbeddedPlane | undefined;
    const socket = await openPlaneSocket({
      port: o.udpPort,
      bindAddress: o.bindAddress ?? "0.0.0.0",
      buffer: o.socketBuffer ?? EMBEDDED_SOCKET_BUFFER,
      onDatagram: (buf, port, ip) => plane?.receive(buf, ip, port),
      onError: () => {
        if (plane) plane.#c.socketErrors++;
      },
    });
    plane = new EmbeddedPlane(socket, mtu, backend);
    return plane;
  }

  get port(): number {
    return this.socket.port;
  }

  /* ------------------------------------------------------------------ packet API */

  /**
   * Adds a handler for every inner IP packet that arrives from a peer and passed the source check.
   * The view is valid only until the handler returns (copy what you keep). Returns a remover.
   */
  onPacket(handler: PacketHandler): () => void {
    this.#packetHandlers.push(handler);
    return () => {
      const i = this.#packetHandlers.indexOf(handler);
      if (i >= 0) this.#packetHandlers.splice(i, 1);
    };
  }

  /** Sends one IPv4/IPv6 packet to the peer its destination routes to. False = dropped (counted). */
  send(packet: Uint8Array): boolean {
    if (packet.length > this.mtu) {
      this.#c.dropTxTooBig++;
      return false;
    }
    this.#tx.set(packet, TRANSPORT_HEADER_SIZE);
    return this.sendInPlace(packet.length);
  }

  /** The buffer `sendInPlace` sends from: build the inner packet at offset {@link TRANSPORT_HEADER_SIZE}. */
  get txBuffer(): Uint8Array {
    return this.#tx;
  }

  /** Seals and sends the inner packet of `len` bytes already written at txBuffer[16…]. */
  sendInPlace(len: number): boolean {
    const c = this.#c;
    if (this.#stopped) return false;
    if (len > this.mtu) {
      c.dropTxTooBig++;
      return false;
    }
    const buf = this.#tx;
    const H = TRANSPORT_HEADER_SIZE;
    const ver = len > 0 ? buf[H]! >> 4 : 0;
    let slotNo: number;
    if (ver === 4 && len >= 20) slotNo = this.#routes.lookupV4(buf, H + 16);
    else if (ver === 6 && len >= 40) slotNo = this.#routes.lookupV6(buf, H + 24);
    else {
      c.dropTxMalformed++;
      return false;
    }
    const peer = slotNo >= 0 ? this.#slots[slotNo] : undefined;
    if (!peer) {
      c.dropTxNoRoute++;
      return false;
    }
    const n = this.#seal(peer, len);
    if (n <= 0) return false;
    if (!this.socket.send(buf.subarray(0, n), peer.endpoint)) {
      c.dropTxSendError++;
      return false;
    }
    peer.txPackets++;
    peer.txBytes += len;
    c.txPackets++;
    c.txBytes += len;
    return true;
  }

  #seal(peer: PeerSlot, len: number): number {
    const k = peer.send;
    if (!k) {
      peer.txNoKey++;
      this.#c.dropTxNoKey++;
      return -1;
    }
    if (k.counter >= COUNTER_LIMIT) {
      this.#c.dropTxCounterExhausted++;
      return -1;
    }
    const n = sealTransport(k.ctx, k.nonce, this.#tx, 0, MsgType.Transport, k.receiver, k.counter, len);
    if (n < 0) {
      this.#c.dropTxMalformed++;
      return -1;
    }
    k.counter++;
    return n;
  }

  /* ------------------------------------------------------------------ receive path */

  /** One datagram from the socket (also the test entry point). `buf` is owned and opened in place. */
  receive(buf: Uint8Array, ip: string, port: number): void {
    const c = this.#c;
    const len = buf.length;
    if (len < 1) {
      c.dropRxShort++;
      return;
    }
    if (buf[0] === MsgType.PathCell && this.#answerProbe(buf, ip, port)) return;
    if (buf[0] !== MsgType.Transport) {
      c.rxControl++;
      const h = this.#controlHandler;
      if (h) {
        try {
          h(buf, { ip, port });
        } catch {
          c.controlHandlerErrors++;
        }
      }
      return;
    }
    if (len < TRANSPORT_MIN_SIZE) {
      c.dropRxShort++;
      return;
    }
    if ((buf[1]! | buf[2]! | buf[3]!) !== 0) {
      c.dropRxMalformedHeader++;
      return;
    }
    const ref = this.#index.get(readReceiver(buf, 0));
    const peer = ref === undefined ? undefined : this.#slots[ref >> 1];
    const key = peer?.recv[ref! & 1];
    if (!peer || !key) {
      c.dropRxUnknownIndex++;
      return;
    }
    const counter = readCounter(buf, 0);
    if (counter < 0) {
      c.dropRxReplay++;
      return;
    }
    const plain = openTransport(key.ctx, key.nonce, buf, 0, len, counter);
    if (plain < 0) {
      c.dropRxBadTag++;
      return;
    }
    if (!key.replay.validate(counter, COUNTER_LIMIT)) {
      c.dropRxReplay++;
      return;
    }
    peer.rxAuthenticated++;
    peer.lastRxWhich = ref! & 1;
    const last = peer.lastRxEndpoint;
    if (!last || last.port !== port || last.ip !== ip) peer.lastRxEndpoint = { ip, port };
    if (plain === 0) {
      c.rxKeepalives++;
      return;
    }
    const inner = buf.subarray(TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE + plain);
    const total = innerCheck(peer, inner);
    if (total < 0) {
      if (total === SPOOFED) c.dropRxSpoofed++;
      else c.dropRxMalformedInner++;
      return;
    }
    const packet = total === plain ? inner : inner.subarray(0, total);
    peer.rxPackets++;
    peer.rxBytes += total;
    c.rxPackets++;
    c.rxBytes += total;
    for (const h of this.#packetHandlers) {
      try {
        h(packet);
      } catch {
        c.packetHandlerErrors++;
      }
    }
  }

  /* ------------------------------------------------------------------ PacketIO */

  onControl(handler: ControlHandler): void {
    this.#controlHandler = handler;
  }

  sendControl(datagram: Uint8Array, to: Endpoint): boolean {
    if (this.#stopped) return false;
    return this.socket.send(datagram, to);
  }

  setPeer(slot: number, cfg: PeerConfig): void {
    checkSlot(slot);
    const v4 = allowedPrefix(cfg.allowedSrcV4, 4);
    const v6 = allowedPrefix(cfg.allowedSrcV6, 6);
    const existing = this.#slots[slot];
    if (existing) {
      existing.endpoint = cfg.endpoint;
      existing.v4 = v4;
      existing.v6 = v6;
    } else this.#slots[slot] = new PeerSlot(cfg.endpoint, v4, v6);
    this.rekey(slot, cfg);
  }

  rekey(slot: number, keys: SessionKeys): void {
    const peer = this.#peer(slot);
    checkIndex(keys.localIndex, "localIndex");
    checkIndex(keys.sendReceiverIndex, "sendReceiverIndex");
    const digest = new Bun.CryptoHasher("sha256").update(keys.sendKey).digest("hex");
    if (this.#usedSendKeys.has(digest)) {
      throw new EmbeddedConfigError(
        "EMB_SEND_KEY_REUSED",
        "this send key was installed before (nonce reuse)",
      );
    }
    if (this.#index.has(keys.localIndex)) {
      throw new EmbeddedConfigError("EMB_INDEX_IN_USE", `local index ${keys.localIndex} is already in use`);
    }
    const sendCtx = createKey(this.backend, keys.sendKey, "send key");
    let recvCtx: ReturnType<typeof createKey>;
    try {
      recvCtx = createKey(this.backend, keys.recvKey, "receive key");
    } catch (e) {
      sendCtx.destroy();
      throw e;
    }
    // Receive: the new key goes into the other physical slot; the one before that retires.
    const phys = peer.recv[peer.current] ? 1 - peer.current : 0;
    this.#retire(slot, peer, phys);
    peer.recv[phys] = new RecvKey(recvCtx, keys.localIndex);
    this.#index.set(keys.localIndex, slot * 2 + phys);
    destroyCellKeys(this.#cells.get(slot * 2 + phys));
    this.#cells.set(
      slot * 2 + phys,
      deriveCellKeys(this.backend, keys.sendKey, keys.sendReceiverIndex, keys.recvKey, keys.localIndex),
    );
    peer.current = phys;
    peer.send?.ctx.destroy();
    peer.send = new SendKey(sendCtx, keys.sendReceiverIndex);
    this.#usedSendKeys.add(digest);
  }

  updateEndpoint(slot: number, endpoint: Endpoint): void {
    this.#peer(slot).endpoint = endpoint;
  }

  removePeer(slot: number): void {
    checkSlot(slot);
    this.#routes.deleteSlot(slot);
    const peer = this.#slots[slot];
    if (!peer) return;
    this.#retire(slot, peer, 0);
    this.#retire(slot, peer, 1);
    peer.clear();
    this.#slots[slot] = undefined;
  }

  route(prefix: string, slot: number): void {
    checkSlot(slot);
    this.#routes.set(prefix, slot);
  }

  unroute(prefix: string): boolean {
    return this.#routes.delete(prefix);
  }

  sendKeepalive(slot: number): void {
    const peer = this.#peer(slot);
    const n = this.#seal(peer, 0);
    if (n <= 0) return;
    if (this.socket.send(this.#tx.subarray(0, n), peer.endpoint)) this.#c.txKeepalives++;
    else this.#c.dropTxSendError++;
  }

  peerStats(slot: number): PeerStats {
    const p = this.#peer(slot);
    return {
      txPackets: p.txPackets,
      txBytes: p.txBytes,
      txNoKey: p.txNoKey,
      rxPackets: p.rxPackets,
      rxBytes: p.rxBytes,
      rxAuthenticated: p.rxAuthenticated,
      sendCounter: BigInt(p.send?.counter ?? 0),
      lastRxKey: p.lastRxWhich < 0 ? "none" : p.lastRxWhich === p.current ? "current" : "previous",
      lastRxEndpoint: p.lastRxEndpoint,
      // The embedded plane relays no path cells natively (its cells go through PathSwitch).
      relayPackets: 0,
      relayBytes: 0,
      relayCounter: 0,
    };
  }

  counters(): Record<string, number> {
    return { ...this.#c };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.socket.close();
    for (let s = 0; s < MAX_SLOTS; s++) if (this.#slots[s]) this.removePeer(s);
    this.#tx.fill(0);
  }

  /** Echoes a link probe from a TUN-mode neighbour (link-probes.ts); true when it was one. */
  #answerProbe(buf: Uint8Array, ip: string, port: number): boolean {
    if (buf.length < TRANSPORT_MIN_SIZE) return false;
    const ref = this.#index.get(readReceiver(buf, 0));
    const cells = ref === undefined ? undefined : this.#cells.get(ref);
    if (!cells) return false;
    const n = answerProbe(buf, cells.recv, cells.send, this.#probeOut);
    if (n <= 0) return false;
    if (this.socket.send(this.#probeOut.subarray(0, n), { ip, port })) this.#c.linkProbesAnswered++;
    return true;
  }

  #peer(slot: number): PeerSlot {
    checkSlot(slot);
    const p = this.#slots[slot];
    if (!p) throw new EmbeddedConfigError("EMB_NO_PEER", `peer slot ${slot} is not configured`);
    return p;
  }

  #retire(slot: number, peer: PeerSlot, phys: number): void {
    const k = peer.recv[phys];
    if (!k) return;
    if (this.#index.get(k.index) === slot * 2 + phys) this.#index.delete(k.index);
    destroyCellKeys(this.#cells.get(slot * 2 + phys));
    this.#cells.delete(slot * 2 + phys);
    k.ctx.destroy();
    peer.recv[phys] = null;
    if (peer.lastRxWhich === phys) peer.lastRxWhich = -1;
  }
}

const MALFORMED = -1;
const SPOOFED = -2;

/** The inner packet's IP total length, or MALFORMED / SPOOFED. */
function innerCheck(peer: PeerSlot, ip: Uint8Array): number {
  const len = ip.length;
  const ver = ip[0]! >> 4;
  if (ver === 4) {
    if (len < 20) return MALFORMED;
    const ihl = (ip[0]! & 15) * 4;
    const total = (ip[2]! << 8) | ip[3]!;
    if (ihl < 20 || total < ihl || total > len) return MALFORMED;
    return allowed(peer.v4, ip, 12) ? total : SPOOFED;
  }
  if (ver === 6) {
    if (len < 40) return MALFORMED;
    const total = 40 + ((ip[4]! << 8) | ip[5]!);
    if (total > len) return MALFORMED;
    return allowed(peer.v6, ip, 8) ? total : SPOOFED;
  }
  return MALFORMED;
}

function allowed(a: Allowed, ip: Uint8Array, off: number): boolean {
  return a.len >= 0 && prefixMatch(a.net, ip, off, a.len);
}

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_SLOTS) {
    throw new EmbeddedConfigError("EMB_BAD_SLOT", `peer slot must be 0..${MAX_SLOTS - 1}, got ${slot}`);
  }
}
