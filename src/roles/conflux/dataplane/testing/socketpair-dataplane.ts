/**
 * Test support: the native TX and RX loops (dp_tx_new/dp_tx_run, dp_rx_new/dp_rx_run, the
 * exported C entry points) with offload on, where the "TUN" is one end of a unix datagram
 * socketpair. Every datagram the test writes to its end is one TUN read (virtio_net_hdr +
 * packet, bytes chosen by the test, bogus header fields included); every TUN write of the RX
 * loop arrives as one datagram at the test's end. Tests only: it bypasses Dataplane.start's TUN
 * check on purpose.
 */
import { dlopen, type Pointer, ptr } from "bun:ffi";
import { readSync, writeSync } from "node:fs";
import {
  closeFd,
  createEventFd,
  IPPROTO_UDP,
  SO_RCVBUF,
  SO_SNDBUF,
  SOL_SOCKET,
  setNonBlocking,
  setSockOptInt,
  signalEventFd,
} from "../../../../ffi/libc.ts";
import { encodeSockaddr, openUdpSocket, type UdpSocket } from "../../../../ffi/udp.ts";
import {
  COUNTER_SLOTS,
  COUNTERS,
  COUNTERS_OFF,
  type DataplaneCounters,
  G_STOP,
  SHARED_SIZE,
} from "../layout.ts";
import { LoopThreads } from "../loop-threads.ts";
import { functionPointer, nativeDataplane } from "../native.ts";
import { PeerTable } from "../peer-table.ts";
import { RouteTable } from "../route-table.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const UDP_GRO = 104;
const UNIX_BUFFER = 4 << 20;

const libc = dlopen("libc.so.6", {
  socketpair: { args: ["i32", "i32", "i32", "ptr"], returns: "i32" },
});

export interface SocketpairPeer {
  readonly endpoint: { ip: string; port: number };
  readonly sendKey: Uint8Array;
  readonly sendReceiverIndex: number;
  readonly recvKey: Uint8Array;
  readonly localIndex: number;
  readonly allowedSrcV4: string;
  readonly allowedSrcV6: string;
  readonly routes: readonly string[];
}

export class SocketpairDataplane {
  private readonly shared = new SharedArrayBuffer(SHARED_SIZE);
  private readonly counters64 = new BigUint64Array(this.shared, COUNTERS_OFF, COUNTER_SLOTS);
  private readonly threads = new LoopThreads({ onWake: () => {} });
  private txCtx = 0;
  private rxCtx = 0;
  private stopFd = -1;
  private wakeFd = -1;

  private constructor(
    /** The test's end of the socketpair (non-blocking). */
    readonly testFd: number,
    private readonly dpFd: number,
    readonly udp: UdpSocket,
  ) {}

  static async start(mtu: number): Promise<SocketpairDataplane> {
    const fds = new Int32Array(new ArrayBuffer(8));
    if (libc.symbols.socketpair(AF_UNIX, SOCK_DGRAM, 0, ptr(fds)) !== 0) throw new Error("socketpair failed");
    const [testFd, dpFd] = [fds[0]!, fds[1]!];
    for (const fd of [testFd, dpFd]) {
      setSockOptInt(fd, SOL_SOCKET, SO_SNDBUF, UNIX_BUFFER, "SO_SNDBUF");
      setSockOptInt(fd, SOL_SOCKET, SO_RCVBUF, UNIX_BUFFER, "SO_RCVBUF");
      setNonBlocking(fd, true);
    }
    const udp = openUdpSocket({
      port: 0,
      bindAddress: "127.0.0.1",
      recvBuffer: UNIX_BUFFER,
      sendBuffer: UNIX_BUFFER,
      reusePort: false,
    });
    setSockOptInt(udp.fd, IPPROTO_UDP, UDP_GRO, 1, "UDP_GRO");
    const dp = new SocketpairDataplane(testFd, dpFd, udp);
    const native = nativeDataplane();
    const shared = ptr(new Uint8Array(dp.shared));
    dp.stopFd = createEventFd();
    dp.wakeFd = createEventFd();
    dp.txCtx = Number(native.symbols.dp_tx_new(shared, dpFd, udp.fd, dp.wakeFd, mtu, 1) ?? 0);
    dp.rxCtx = Number(native.symbols.dp_rx_new(shared, dpFd, udp.fd, dp.stopFd, mtu, 1) ?? 0);
    if (!dp.txCtx || !dp.rxCtx) throw new Error("native context allocation failed");
    dp.threads.spawn({ name: "tx", run: functionPointer("dp_tx_run"), ctx: dp.txCtx });
    dp.threads.spawn({ name: "rx", run: functionPointer("dp_rx_run"), ctx: dp.rxCtx });
    return dp;
  }

  get port(): number {
    return this.udp.port;
  }

  setPeer(slot: number, p: SocketpairPeer): void {
    const peers = new PeerTable(this.shared);
    peers.setEndpoint(slot, encodeSockaddr(p.endpoint, 4), p.allowedSrcV4, p.allowedSrcV6);
    peers.installRecvKey(slot, p.recvKey, p.localIndex);
    peers.installSendKey(slot, p.sendKey, p.sendReceiverIndex);
    const routes = new RouteTable(this.shared);
    for (const r of p.routes) routes.set(r, slot);
  }

  /** One "TUN read" for the TX loop. */
  inject(datagram: Uint8Array): void {
    writeSync(this.testFd, datagram);
  }

  /** Every "TUN write" of the RX loop so far (fresh buffers; read through the fs layer). */
  drain(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (;;) {
      const buf = new Uint8Array(new ArrayBuffer(70_000));
      let n: number;
      try {
        n = readSync(this.testFd, buf);
      } catch (e) {
        if ((e as { code?: string }).code === "EAGAIN") return out;
        throw e;
      }
      out.push(buf.slice(0, n));
    }
  }

  counters(): DataplaneCounters {
    const out: Record<string, number> = {};
    for (const [name, i] of COUNTERS) out[name] = Number(Atomics.load(this.counters64, i));
    return out as DataplaneCounters;
  }

  async stop(): Promise<void> {
    Atomics.store(new Int32Array(this.shared), G_STOP >> 2, 1);
    signalEventFd(this.stopFd);
    signalEventFd(this.wakeFd);
    if ((await this.threads.join(3000)) === null) throw new Error("the native loops did not stop");
    const { symbols } = nativeDataplane();
    symbols.dp_tx_free(this.txCtx as Pointer);
    symbols.dp_rx_free(this.rxCtx as Pointer);
    for (const fd of [this.udp.fd, this.testFd, this.dpFd, this.stopFd, this.wakeFd]) closeFd(fd);
  }
}
