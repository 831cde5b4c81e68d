/**
 * The Conflux packet data plane: TUN ⇄ AES-256-GCM transport ⇄ UDP, in two native batched loops
 * on threads of their own (see native/*.c and README.md). This class is the
 * main thread's control surface: peers, keys, routes, counters, the control-datagram path.
 *
 * @example
 * const tun = openDataplaneTun("veil0"); // vnet header + TSO: the fast configuration
 * const dp = await Dataplane.start({ tunFd: tun.fd, mtu: 1420, udpPort: 51820 });
 * dp.setPeer(0, { endpoint: { ip: "198.18.0.2", port: 51820 }, sendKey, sendReceiverIndex: 7,
 *                 recvKey, localIndex: 9, allowedSrcV4: "100.64.0.2/32" });
 * dp.route("100.64.0.2/32", 0);
 * dp.onControl((datagram, from) => handshake.receive(datagram, from));
 * dp.sendControl(initiation, { ip: "198.18.0.2", port: 51820 });
 * await dp.stop();
 */
import { type Pointer, ptr } from "bun:ffi";
import {
  closeFd,
  createEventFd,
  IPPROTO_UDP,
  setNonBlocking,
  setSockOptInt,
  signalEventFd,
} from "../../../ffi/libc.ts";
import {
  IFF_VNET_HDR,
  openTun,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  type Tun,
  tunFlags,
} from "../../../ffi/tun.ts";
import { type Endpoint, encodeSockaddr, openUdpSocket, type UdpSocket, udpSendTo } from "../../../ffi/udp.ts";
import { type ControlHandler, ControlRing } from "./control-ring.ts";
import { DataplaneConfigError, DataplaneLoopError } from "./errors.ts";
import { LabelTable } from "./label-table.ts";
import {
  COUNTER_SLOTS,
  COUNTERS,
  COUNTERS_OFF,
  type DataplaneCounters,
  G_CTRL_WAKE,
  G_RX_ERRNO,
  G_RX_STATUS,
  G_STOP,
  G_TX_ERRNO,
  G_TX_STATUS,
  SHARED_SIZE,
} from "./layout.ts";
import { LoopThreads } from "./loop-threads.ts";
import { functionPointer, nativeDataplane } from "./native.ts";
import { type PeerStats, PeerTable } from "./peer-table.ts";
import { RouteTable } from "./route-table.ts";

/* Implementation constants */
export const DEFAULT_MTU = 1420;
/** TUNSETOFFLOAD flags the data plane handles: checksum offload, TCPv4 and TCPv6 segmentation. */
export const DATAPLANE_TUN_OFFLOAD = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
export const DEFAULT_SOCKET_BUFFER = 4 << 20;
const LOOP_START_TIMEOUT_MS = 10_000;
const LOOP_STOP_TIMEOUT_MS = 3_000;
/** setsockopt(SOL_UDP, UDP_GRO): receive batches of same-size datagrams as one message. */
const UDP_GRO = 104;

/**
 * Opens the TUN the way the data plane is fastest with: virtio_net_hdr plus checksum and TCPv4
 * segmentation offload (≈ 4–7× the packets-per-syscall of a plain TUN). Pass its fd to
 * {@link Dataplane.start}; offload is then detected automatically.
 */
export function openDataplaneTun(name: string): Tun {
  return openTun({ name, vnetHdr: true, offload: DATAPLANE_TUN_OFFLOAD });
}

export interface DataplaneOptions {
  /** A TUN fd opened with IFF_TUN|IFF_NO_PI (optionally IFF_VNET_HDR); the caller keeps ownership. */
  readonly tunFd: number;
  /** The TUN's MTU: the largest inner packet. Default 1420. */
  readonly mtu?: number;
  /** UDP port to bind (0 = any). */
  readonly udpPort: number;
  /** `0.0.0.0` (default), `::` for dual stack, or one address. */
  readonly bindAddress?: string;
  /** SO_RCVBUF/SO_SNDBUF in bytes (default 4 MiB). */
  readonly socketBuffer?: number;
  readonly reusePort?: boolean;
  /**
   * Segmentation offload: TCP super-packets from the TUN are split in native code and sent with
   * UDP GSO, received UDP is batched with UDP_GRO, and TCP segments are coalesced before the TUN
   * write. Needs a TUN opened with `vnetHdr: true` (and `offload: DATAPLANE_TUN_OFFLOAD` for
   * TSO). Default: on exactly when the TUN carries IFF_VNET_HDR.
   */
  readonly offload?: boolean;
}

export interface PeerConfig {
  /** Underlay address of the peer's data plane. */
  readonly endpoint: Endpoint;
  /** 32-byte AES-256-GCM key for packets to the peer. Never install the same key twice. */
  readonly sendKey: Uint8Array;
  /** The peer's receiver index for our packets (its local index). */
  readonly sendReceiverIndex: number;
  /** 32-byte key for packets from the peer. */
  readonly recvKey: Uint8Array;
  /** Our receiver index for this session; unique across all peers. */
  readonly localIndex: number;
  /** Inner IPv4 source prefix the peer may use (e.g. `100.64.0.2/32`); absent = none. */
  readonly allowedSrcV4?: string;
  /** Inner IPv6 source prefix the peer may use; absent = none. */
  readonly allowedSrcV6?: string;
}

export interface SessionKeys {
  readonly sendKey: Uint8Array;
  readonly sendReceiverIndex: number;
  readonly recvKey: Uint8Array;
  readonly localIndex: number;
}

export type LoopState = "starting" | "running" | "stopped" | "failed";

export class Dataplane {
  private readonly shared = new SharedArrayBuffer(SHARED_SIZE);
  private readonly i32 = new Int32Array(this.shared);
  private readonly counters64 = new BigUint64Array(this.shared, COUNTERS_OFF, COUNTER_SLOTS);
  private readonly peers = new PeerTable(this.shared);
  private readonly routes = new RouteTable(this.shared);
  private readonly ring = new ControlRing(this.shared);
  /**
   * The native label table of path cells (multi-hop relay): mirror PathSwitch's entries here and
   * the RX loop relays DATA/KEEPALIVE cells of traversing paths itself (see native/relay.c).
   */
  readonly labels = new LabelTable(this.shared);
  private threads: LoopThreads | null = null;
  private controlHandler: ControlHandler | null = null;
  private controlErrors = 0;
  private stopped = false;
  private txCtx = 0;
  private rxCtx = 0;
  private stopFd = -1;
  private txWake = -1;

  private constructor(
    private readonly udp: UdpSocket,
    readonly mtu: number,
  ) {}

  /** The bound UDP port. */
  get port(): number {
    return this.udp.port;
  }

  /** The UDP socket fd (shared with the native loops; do not close). */
  get udpFd(): number {
    return this.udp.fd;
  }

  /** Compiles (once per process) and starts the TX and RX loop threads. */
  static async start(opts: DataplaneOptions): Promise<Dataplane> {
    const mtu = opts.mtu ?? DEFAULT_MTU;
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65_000) {
      throw new DataplaneConfigError("DP_BAD_MTU", `MTU out of range: ${mtu}`);
    }
    const native = nativeDataplane();
    const buffer = opts.socketBuffer ?? DEFAULT_SOCKET_BUFFER;
    const udp = openUdpSocket({
      port: opts.udpPort,
      bindAddress: opts.bindAddress ?? "0.0.0.0",
      recvBuffer: buffer,
      sendBuffer: buffer,
      reusePort: opts.reusePort ?? false,
    });
    const dp = new Dataplane(udp, mtu);
    try {
      setNonBlocking(opts.tunFd, true);
      dp.stopFd = createEventFd();
      dp.txWake = createEventFd();
      const shared = ptr(new Uint8Array(dp.shared));
      const vnet = (tunFlags(opts.tunFd) & IFF_VNET_HDR) !== 0;
      if (opts.offload !== undefined && opts.offload !== vnet) {
        throw new DataplaneConfigError(
          "DP_OFFLOAD_MISMATCH",
          `offload=${opts.offload} but the TUN was opened ${vnet ? "with" : "without"} IFF_VNET_HDR`,
        );
      }
      const offload = vnet ? 1 : 0;
      if (offload) setSockOptInt(udp.fd, IPPROTO_UDP, UDP_GRO, 1, "UDP_GRO");
      dp.txCtx = Number(native.symbols.dp_tx_new(shared, opts.tunFd, udp.fd, dp.txWake, mtu, offload) ?? 0);
      dp.rxCtx = Number(native.symbols.dp_rx_new(shared, opts.tunFd, udp.fd, dp.stopFd, mtu, offload) ?? 0);
      if (!dp.txCtx || !dp.rxCtx)
        throw new DataplaneLoopError("DP_NO_MEMORY", "native context allocation failed");
      dp.threads = new LoopThreads({
        wakeWord: { shared: dp.shared, offset: G_CTRL_WAKE },
        onWake: () => dp.drainControl(),
      });
      dp.threads.spawn({ name: "tx", run: functionPointer("dp_tx_run"), ctx: dp.txCtx });
      dp.threads.spawn({ name: "rx", run: functionPointer("dp_rx_run"), ctx: dp.rxCtx });
      await dp.running();
    } catch (e) {
      await dp.stop();
      throw e;
    }
    return dp;
  }

  /** Resolves once both loops report running; a loop that fails first or never starts rejects. */
  private async running(): Promise<void> {
    const deadline = performance.now() + LOOP_START_TIMEOUT_MS;
    for (;;) {
      const s = this.status();
      if (s.tx === "running" && s.rx === "running") return;
      if (s.tx === "failed" || s.rx === "failed") {
        throw new DataplaneLoopError(
          "DP_LOOP_FAILED",
          `a loop failed at start (tx errno ${s.txErrno}, rx errno ${s.rxErrno})`,
        );
      }
      if (performance.now() > deadline)
        throw new DataplaneLoopError("DP_LOOP_TIMEOUT", "the native loops did not start");
      await Bun.sleep(1);
    }
  }

  private drainControl(): void {
    if (this.controlHandler && !this.stopped)
      this.ring.drain(this.controlHandler, () => this.controlErrors++);
  }

  /**
   * Receives every non-transport datagram (first byte ≠ 4) that arrives on the data-plane socket.
   * The datagram is an owned copy; `from` is the underlay source.
   */
  onControl(handler: ControlHandler): void {
    this.controlHandler = handler;
    queueMicrotask(() => this.drainControl()); // datagrams that arrived before there was a handler
  }

  /** Sends one datagram (a handshake or control message) from the data-plane socket; false if refused. */
  sendControl(datagram: Uint8Array, to: Endpoint): boolean {
    return udpSendTo(this.udp.fd, datagram, encodeSockaddr(to, this.udp.family));
  }

  /**
   * Configures peer `slot` (0..1023): endpoint, allowed inner sources and a session's keys.
   * Calling it again on a live slot is a rekey: the previous receive key keeps working.
   */
  setPeer(slot: number, cfg: PeerConfig): void {
    PeerTable.checkSlot(slot);
    this.peers.setEndpoint(
      slot,
      encodeSockaddr(cfg.endpoint, this.udp.family),
      cfg.allowedSrcV4,
      cfg.allowedSrcV6,
    );
    this.rekey(slot, cfg);
  }

  /** Installs a new session's keys on a configured peer (previous receive key stays valid). */
  rekey(slot: number, keys: SessionKeys): void {
    PeerTable.checkSlot(slot);
    this.peers.checkSendKey(keys.sendKey); // validate before changing anything
    this.peers.installRecvKey(slot, keys.recvKey, keys.localIndex);
    this.peers.installSendKey(slot, keys.sendKey, keys.sendReceiverIndex);
  }

  /** The peer slot whose live receive key has `localIndex` (a link's cells carry it), or -1. */
  slotOfIndex(localIndex: number): number {
    return this.peers.slotOfIndex(localIndex);
  }

  /** Points a peer at a new underlay endpoint (e.g. after it roamed). */
  updateEndpoint(slot: number, endpoint: Endpoint): void {
    PeerTable.checkSlot(slot);
    this.peers.updateEndpoint(slot, encodeSockaddr(endpoint, this.udp.family));
  }

  /** Removes the peer, wipes its keys and every route to it. */
  removePeer(slot: number): void {
    PeerTable.checkSlot(slot);
    this.routes.deleteSlot(slot);
    this.peers.remove(slot);
  }

  /** Routes an overlay prefix (IPv4 or IPv6, e.g. `100.64.0.2/32`) to peer `slot`. */
  route(prefix: string, slot: number): void {
    PeerTable.checkSlot(slot);
    this.routes.set(prefix, slot);
  }

  /** IPv4 alias of {@link route}. */
  routeV4(prefix: string, slot: number): void {
    this.route(prefix, slot);
  }

  /** Removes the route for exactly `prefix`. */
  unroute(prefix: string): boolean {
    return this.routes.delete(prefix);
  }

  /** Asks the TX loop to send an empty (keepalive) transport message to `slot`. */
  sendKeepalive(slot: number): void {
    PeerTable.checkSlot(slot);
    this.peers.requestKeepalive(slot);
    signalEventFd(this.txWake);
  }

  peerStats(slot: number): PeerStats {
    PeerTable.checkSlot(slot);
    return this.peers.stats(slot);
  }

  /**
   * Whether each native loop is running. `failed` means it stopped on a fatal error (its errno
   * is given) — the node should tear the data plane down and start a new one.
   */
  status(): { tx: LoopState; rx: LoopState; txErrno: number; rxErrno: number } {
    const state = (off: number): LoopState => {
      const v = Atomics.load(this.i32, off >> 2);
      if (v === 1) return "running";
      if (v === 2) return this.stopped ? "stopped" : "failed";
      return "starting";
    };
    return {
      tx: state(G_TX_STATUS),
      rx: state(G_RX_STATUS),
      txErrno: Atomics.load(this.i32, G_TX_ERRNO >> 2),
      rxErrno: Atomics.load(this.i32, G_RX_ERRNO >> 2),
    };
  }

  /** Packet/byte counts per direction and drops by reason. */
  counters(): DataplaneCounters & { controlHandlerErrors: number } {
    const out: Record<string, number> = { controlHandlerErrors: this.controlErrors };
    for (const [name, i] of COUNTERS) out[name] = Number(Atomics.load(this.counters64, i));
    return out as DataplaneCounters & { controlHandlerErrors: number };
  }

  /** Stops both loops, frees native state and closes the UDP socket (not the TUN). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.i32, G_STOP >> 2, 1);
    if (this.stopFd >= 0) signalEventFd(this.stopFd);
    if (this.txWake >= 0) signalEventFd(this.txWake);
    if (this.threads) {
      // A loop that did not end may still touch its context and fds: leaking them is the safe choice.
      if ((await this.threads.join(LOOP_STOP_TIMEOUT_MS)) === null) return;
    }
    const { symbols } = nativeDataplane();
    if (this.txCtx) symbols.dp_tx_free(this.txCtx as Pointer);
    if (this.rxCtx) symbols.dp_rx_free(this.rxCtx as Pointer);
    closeFd(this.udp.fd);
    closeFd(this.stopFd);
    closeFd(this.txWake);
  }
}
