/**
 * The embedded plane's UDP socket: Bun.udpSocket on the event loop (one callback per datagram,
 * an owned buffer each), with its kernel buffers raised. Bun opens the socket with the default
 * SO_RCVBUF (≈ 208 KiB, about 140 full datagrams): a burst longer than that while the loop is
 * busy would be dropped by the kernel, so the buffers are raised through the socket's fd with
 * setsockopt (capped by net.core.rmem_max/wmem_max for an unprivileged process).
 */
import { getSockOptInt, SO_RCVBUF, SO_SNDBUF, SOL_SOCKET, setSockOptInt } from "../../../ffi/libc.ts";
import type { Endpoint } from "../../../ffi/udp.ts";

export interface PlaneSocketOptions {
  readonly port: number;
  readonly bindAddress: string;
  readonly buffer: number;
  readonly onDatagram: (buf: Uint8Array, port: number, ip: string) => void;
  readonly onError: (e: Error) => void;
}

export interface PlaneSocket {
  readonly port: number;
  /** SO_RCVBUF as the kernel reports it (0 when it could not be read). */
  readonly recvBuffer: number;
  send(datagram: Uint8Array, to: Endpoint): boolean;
  close(): void;
}

export async function openPlaneSocket(o: PlaneSocketOptions): Promise<PlaneSocket> {
  const sock = await Bun.udpSocket({
    port: o.port,
    hostname: o.bindAddress,
    binaryType: "uint8array",
    socket: {
      data: (_s, buf, port, ip) => o.onDatagram(buf, port, ip),
      error: (_s, e) => o.onError(e),
    },
  });
  let recvBuffer = 0;
  // Bun exposes the descriptor as an undocumented `fd`; without it the defaults stay.
  const fd = (sock as unknown as { fd?: unknown }).fd;
  if (typeof fd === "number" && fd >= 0) {
    for (const opt of [SO_RCVBUF, SO_SNDBUF]) {
      try {
        setSockOptInt(fd, SOL_SOCKET, opt, o.buffer, opt === SO_RCVBUF ? "SO_RCVBUF" : "SO_SNDBUF");
      } catch {
        // keep the default size: the plane still works, bursts may be dropped sooner
      }
    }
    try {
      recvBuffer = getSockOptInt(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF");
    } catch {
      recvBuffer = 0;
    }
  }
  return {
    port: sock.port,
    recvBuffer,
    send: (d, to) => {
      try {
        return sock.send(d, to.port, to.ip);
      } catch (e) {
        o.onError(e as Error);
        return false;
      }
    },
    close: () => sock.close(),
  };
}
