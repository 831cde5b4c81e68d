/**
 * The userspace TCP endpoint of an embedded node: it owns the node's overlay IPv4 address on the
 * embedded plane, demultiplexes incoming segments to connections by (remote address, remote port,
 * local port), answers SYNs for listening ports, resets everything else (RFC 9293), builds
 * outgoing packets in place in the plane's send buffer (one copy from the send ring, no
 * allocation), and runs every connection's timers from one 10 ms tick.
 */
import { TRANSPORT_HEADER_SIZE } from "../../../anchor/transport.ts";
import { StreamError } from "./errors.ts";
import type { EmbeddedPlane } from "./plane.ts";
import { type ConnHost, type ConnOptions, TcpConnection, type Transmit } from "./tcp-conn.ts";
import {
  ACK,
  IPV4_HEADER_SIZE,
  ipv4ToU32,
  newSegment,
  Parse,
  parseTcpPacket,
  RST,
  SYN,
  TCP_HEADER_SIZE,
  writeTcpPacket,
} from "./tcp-wire.ts";

/* Implementation constants */
export const TICK_MS = 10;
export const EPHEMERAL_FIRST = 49152;
export const EPHEMERAL_COUNT = 16384;
export const DEFAULT_RECV_BUFFER = 1 << 20;
export const DEFAULT_SEND_BUFFER = 2 << 20;
/** Connections in SYN_RCVD per listener before further SYNs are dropped (counted). */
export const MAX_HALF_OPEN = 256;

export interface TcpStackOptions {
  /** Per-connection receive window / buffer in bytes (default 1 MiB). */
  readonly recvBuffer?: number;
  /** Per-connection send buffer in bytes (default 2 MiB). */
  readonly sendBuffer?: number;
}

export type AcceptHandler = (conn: TcpConnection) => void;

interface Listener {
  readonly onConnection: AcceptHandler;
  halfOpen: number;
}

export class TcpStack implements ConnHost {
  readonly localIp: number;
  readonly #conns = new Map<number, Map<number, TcpConnection>>();
  readonly #listeners = new Map<number, Listener>();
  readonly #seg = newSegment();
  readonly #connOptions: ConnOptions;
  #count = 0;
  #ipId = 1;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #removePacketHandler: () => void;
  readonly counters = {
    segmentsIn: 0,
    segmentsOut: 0,
    dropNotTcp: 0,
    dropNotForUs: 0,
    dropFragment: 0,
    dropMalformed: 0,
    dropBadChecksum: 0,
    dropSendRefused: 0,
    dropListenOverflow: 0,
    resetsSent: 0,
    connectionsOpened: 0,
    connectionsAccepted: 0,
  };

  constructor(
    readonly plane: EmbeddedPlane,
    localIpv4: string,
    o: TcpStackOptions = {},
  ) {
    this.localIp = ipv4ToU32(localIpv4);
    this.#connOptions = {
      mss: plane.mtu - IPV4_HEADER_SIZE - TCP_HEADER_SIZE,
      recvBuffer: o.recvBuffer ?? DEFAULT_RECV_BUFFER,
      sendBuffer: o.sendBuffer ?? DEFAULT_SEND_BUFFER,
    };
    this.#removePacketHandler = plane.onPacket((p) => this.input(p));
  }

  /** Accepts connections to `port` on the node's overlay address. Returns a function that stops listening. */
  listen(port: number, onConnection: AcceptHandler): () => void {
    checkPort(port);
    if (this.#listeners.has(port))
      throw new StreamError("STREAM_PORT_IN_USE", `port ${port} already has a listener`);
    this.#listeners.set(port, { onConnection, halfOpen: 0 });
    return () => this.#listeners.delete(port);
  }

  /** Opens a connection; the promise settles when it is established (or refused / timed out). */
  connect(remoteIp: string, remotePort: number): Promise<TcpConnection> {
    checkPort(remotePort);
    const ip = ipv4ToU32(remoteIp);
    const local = this.#ephemeralPort(ip, remotePort);
    const now = performance.now();
    const conn = new TcpConnection(this, local, ip, remotePort, this.#connOptions, "SYN_SENT", now);
    this.#add(conn);
    this.counters.connectionsOpened++;
    return new Promise((resolve, reject) => {
      conn.onConnect = () => resolve(conn);
      conn.onClose = (err) => reject(err ?? new StreamError("STREAM_CLOSED", "closed before it opened"));
      conn.open(now);
    });
  }

  /** One inner packet from the plane. */
  input(packet: Uint8Array): void {
    const seg = this.#seg;
    const r = parseTcpPacket(packet, seg);
    const c = this.counters;
    if (r !== Parse.Ok) {
      if (r === Parse.NotIPv4 || r === Parse.NotTcp) c.dropNotTcp++;
      else if (r === Parse.Fragment) c.dropFragment++;
      else if (r === Parse.BadChecksum) c.dropBadChecksum++;
      else c.dropMalformed++;
      return;
    }
    if (seg.dstIp !== this.localIp) {
      c.dropNotForUs++;
      return;
    }
    c.segmentsIn++;
    const now = performance.now();
    const conn = this.#conns.get(seg.dstPort)?.get(seg.srcIp * 65536 + seg.srcPort);
    if (conn) {
      conn.input(seg, now);
      return;
    }
    const listener = this.#listeners.get(seg.dstPort);
    if (listener && seg.flags & SYN && !(seg.flags & (ACK | RST))) {
      if (listener.halfOpen >= MAX_HALF_OPEN) {
        c.dropListenOverflow++;
        return;
      }
      const nc = new TcpConnection(
        this,
        seg.dstPort,
        seg.srcIp,
        seg.srcPort,
        this.#connOptions,
        "SYN_RCVD",
        now,
      );
      listener.halfOpen++;
      let counted = true;
      const settle = () => {
        if (counted) listener.halfOpen--;
        counted = false;
      };
      nc.onConnect = () => {
        settle();
        c.connectionsAccepted++;
        listener.onConnection(nc);
      };
      nc.onClose = settle;
      this.#add(nc);
      nc.acceptSyn(seg, now);
      return;
    }
    if (!(seg.flags & RST)) this.#reset(seg);
  }

  /** RFC 9293 reset generation for a segment that belongs to no connection. */
  #reset(seg: ReturnType<typeof newSegment>): void {
    const len = seg.data.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & 1 ? 1 : 0);
    const t: Transmit = {
      seq: seg.flags & ACK ? seg.ack : 0,
      ack: (seg.seq + len) >>> 0,
      flags: seg.flags & ACK ? RST : RST | ACK,
      window: 0,
      options: null,
      optLen: 0,
      dataIndex: 0,
      dataLen: 0,
    };
    this.counters.resetsSent++;
    this.#send(seg.dstPort, seg.srcIp, seg.srcPort, t, null);
  }

  transmit(conn: TcpConnection, t: Transmit): boolean {
    if (t.flags & RST) this.counters.resetsSent++;
    return this.#send(conn.localPort, conn.remoteIp, conn.remotePort, t, conn);
  }

  #send(
    localPort: number,
    remoteIp: number,
    remotePort: number,
    t: Transmit,
    conn: TcpConnection | null,
  ): boolean {
    const buf = this.plane.txBuffer;
    const pos = TRANSPORT_HEADER_SIZE;
    const optAt = pos + IPV4_HEADER_SIZE + TCP_HEADER_SIZE;
    if (t.optLen > 0 && t.options) buf.set(t.options.subarray(0, t.optLen), optAt);
    if (t.dataLen > 0 && conn) conn.sender.ring.copyOut(t.dataIndex, t.dataLen, buf, optAt + t.optLen);
    const len = writeTcpPacket(
      buf,
      pos,
      {
        src: this.localIp,
        dst: remoteIp,
        ipId: this.#ipId++ & 0xffff,
        srcPort: localPort,
        dstPort: remotePort,
        seq: t.seq,
        ack: t.ack,
        flags: t.flags,
        window: t.window,
      },
      t.optLen,
      t.dataLen,
    );
    if (!this.plane.sendInPlace(len)) {
      this.counters.dropSendRefused++;
      return false;
    }
    this.counters.segmentsOut++;
    return true;
  }

  release(conn: TcpConnection): void {
    const byPort = this.#conns.get(conn.localPort);
    const key = conn.remoteIp * 65536 + conn.remotePort;
    if (byPort?.get(key) !== conn) return;
    byPort.delete(key);
    if (byPort.size === 0) this.#conns.delete(conn.localPort);
    this.#count--;
    if (this.#count === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  get connectionCount(): number {
    return this.#count;
  }

  /** Resets every connection and detaches from the plane. */
  close(): void {
    for (const byPort of [...this.#conns.values()])
      for (const c of [...byPort.values()]) c.destroy("stack closed");
    this.#listeners.clear();
    this.#removePacketHandler();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #add(conn: TcpConnection): void {
    let byPort = this.#conns.get(conn.localPort);
    if (!byPort) {
      byPort = new Map();
      this.#conns.set(conn.localPort, byPort);
    }
    byPort.set(conn.remoteIp * 65536 + conn.remotePort, conn);
    this.#count++;
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#tick(), TICK_MS);
    }
  }

  #tick(): void {
    const now = performance.now();
    for (const byPort of this.#conns.values()) for (const c of byPort.values()) c.tick(now);
  }

  #ephemeralPort(ip: number, port: number): number {
    const key = ip * 65536 + port;
    for (let tries = 0; tries < EPHEMERAL_COUNT; tries++) {
      const p = EPHEMERAL_FIRST + Math.floor(Math.random() * EPHEMERAL_COUNT);
      if (this.#listeners.has(p) || this.#conns.get(p)?.has(key)) continue;
      return p;
    }
    throw new StreamError("STREAM_NO_PORT", "no free local port");
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new StreamError("STREAM_BAD_PORT", `port must be 1..65535, got ${port}`);
}
