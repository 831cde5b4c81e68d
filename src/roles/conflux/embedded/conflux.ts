/**
 * `Conflux`: a whole veilnet node inside an application, without TUN and without root. It enrols
 * (first start), joins the realm through Master, meets peers and runs Anchor sessions exactly as a
 * TUN-mode node does; its packet plane lives in the process (plane.ts), and a userspace TCP
 * endpoint (tcp-stack.ts) owns its overlay IPv4 address, so it can open and accept ordinary TCP
 * connections to and from any node of the realm — TUN-mode nodes' kernels included.
 *
 * @example
 * import { Conflux } from "veilnet";
 * const node = await Conflux.start({ stateDir: "./state", guardian: "https://198.18.1.1:7443",
 *                                    token, realm: "demo", guardianCa: "./ca.pem" });
 * const s = await node.connect("100.64.0.2", 80);            // a stream over the mesh
 * await new Response("GET / HTTP/1.0\r\n\r\n").body!.pipeTo(s.writable);
 * console.log(await new Response(s.readable).text());
 * node.listen(8080, (s) => s.readable.pipeTo(s.writable));   // echo on <node ipv4>:8080
 * node.packets.onPacket((ip) => {});                          // raw IP packets, if wanted
 * await node.stop();
 */
import { loadConfluxConfig } from "../config.ts";
import type { ConfluxNode, Log } from "../node.ts";
import { StreamError } from "./errors.ts";
import type { EmbeddedPlane, PacketHandler } from "./plane.ts";
import { ConfluxStream } from "./stream.ts";
import type { TcpConnection } from "./tcp-conn.ts";
import { TcpStack } from "./tcp-stack.ts";

/* Implementation constants */
export const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const PEER_POLL_MS = 100;

export interface ConfluxOptions {
  /** State directory (identity, credentials); created 0700. Must be writable by this process. */
  readonly stateDir: string;
  /** First start only: Guardian's enrolment URL, a token, the realm and Guardian's CA (PEM file). */
  readonly guardian?: string;
  readonly token?: string;
  readonly realm?: string;
  readonly guardianCa?: string;
  /** UDP port for Anchor traffic (default: derived from the node id; 0 = any). */
  readonly listenPort?: number;
  /** Extra underlay addresses to offer peers. */
  readonly advertise?: readonly string[];
  /** Overlay MTU (default 1420). */
  readonly mtu?: number;
  /** Per-stream receive window and send buffer in bytes (defaults 1 MiB / 2 MiB). */
  readonly recvBuffer?: number;
  readonly sendBuffer?: number;
  /** Log lines (default: none). */
  readonly log?: Log;
}

/** Raw IP packets to and from the overlay. */
export interface PacketPort {
  /** Sends one IPv4/IPv6 packet whose source is this node's overlay address. False = dropped (counted). */
  send(packet: Uint8Array): boolean;
  /** Every authenticated inner packet from a peer; the view is valid only during the call. */
  onPacket(handler: PacketHandler): () => void;
}

export class Conflux {
  readonly packets: PacketPort;
  readonly #listeners = new Map<number, () => void>();

  private constructor(
    readonly node: ConfluxNode,
    readonly plane: EmbeddedPlane,
    readonly tcp: TcpStack,
  ) {
    this.packets = { send: (p) => plane.send(p), onPacket: (h) => plane.onPacket(h) };
  }

  static async start(o: ConfluxOptions): Promise<Conflux> {
    const config = loadConfluxConfig({
      state: o.stateDir,
      guardian: o.guardian,
      token: o.token,
      realm: o.realm,
      guardianCa: o.guardianCa,
      listen: o.listenPort === undefined ? undefined : String(o.listenPort),
      mtu: o.mtu === undefined ? undefined : String(o.mtu),
      advertise: o.advertise?.join(","),
      embedded: true,
    });
    const { ConfluxNode } = await import("../node.ts");
    const node = await ConfluxNode.start(config, o.log ?? (() => {}));
    const plane = node.io as EmbeddedPlane;
    const tcp = new TcpStack(plane, node.credentials.ipv4, {
      recvBuffer: o.recvBuffer,
      sendBuffer: o.sendBuffer,
    });
    return new Conflux(node, plane, tcp);
  }

  /** This node's overlay addresses. */
  get address(): { ipv4: string; ipv6: string } {
    return { ipv4: this.node.credentials.ipv4, ipv6: this.node.credentials.ipv6 };
  }

  get nodeId(): string {
    return this.node.nodeIdHex;
  }

  /** Resolves when the node whose certified overlay IPv4 is `ipv4` has a live session with us. */
  async waitForPeer(ipv4: string, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.#peerUp(ipv4)) {
      if (performance.now() > deadline)
        throw new StreamError("STREAM_NO_PEER", `no session with ${ipv4} after ${timeoutMs} ms`);
      await Bun.sleep(PEER_POLL_MS);
    }
  }

  #peerUp(ipv4: string): boolean {
    const peers = this.node.peers.snapshot(Date.now()) as { ipv4: string; state: string }[];
    return peers.some((p) => p.ipv4 === ipv4 && p.state === "up");
  }

  /** Opens a TCP stream to `host:port` on the overlay (waits for the session with that node first). */
  async connect(host: string, port: number, opts: { timeoutMs?: number } = {}): Promise<ConfluxStream> {
    return new ConfluxStream(await this.connectTcp(host, port, opts));
  }

  /** Accepts TCP streams on `port` of this node's overlay IPv4 address. */
  listen(port: number, onStream: (s: ConfluxStream) => void): { close(): void } {
    return this.listenTcp(port, (c) => onStream(new ConfluxStream(c)));
  }

  /**
   * Low level: the connection itself (callbacks, no Web Streams), paused until a data handler is
   * set and `resume()` is called, so no byte is delivered before its consumer exists.
   */
  async connectTcp(host: string, port: number, opts: { timeoutMs?: number } = {}): Promise<TcpConnection> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const start = performance.now();
    await this.waitForPeer(host, timeoutMs);
    const conn = this.tcp.connect(host, port);
    const left = Math.max(1, timeoutMs - (performance.now() - start));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(
        () => rej(new StreamError("STREAM_TIMEOUT", `connect ${host}:${port} timed out`)),
        left,
      );
    });
    try {
      return await Promise.race([conn, timeout]);
    } catch (e) {
      void conn.then((c) => c.destroy("connect timed out")).catch(() => {});
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Low level: accepted connections arrive paused (see {@link connectTcp}). */
  listenTcp(port: number, onConnection: (c: TcpConnection) => void): { close(): void } {
    const stop = this.tcp.listen(port, onConnection);
    this.#listeners.set(port, stop);
    return {
      close: () => {
        stop();
        this.#listeners.delete(port);
      },
    };
  }

  peers(): object[] {
    return this.node.peers.snapshot(Date.now());
  }

  counters(): { plane: Record<string, number>; tcp: Record<string, number> } {
    return { plane: this.plane.counters(), tcp: { ...this.tcp.counters } };
  }

  status(): Record<string, unknown> {
    return { ...this.node.status(), tcp: { ...this.tcp.counters, connections: this.tcp.connectionCount } };
  }

  /** Resolves when the node stopped (stop(), admin shutdown or revocation). */
  get stopped(): Promise<void> {
    return this.node.stopped;
  }

  async stop(reason = "stopped by the application"): Promise<void> {
    this.tcp.close();
    await this.node.stop(reason);
  }
}
