/**
 * UDP sockets created through libc, so buffer sizes, SO_REUSEPORT and the raw fd are ours
 * (Bun.udpSocket exposes none of them), plus sockaddr encoding for sendto/sendmmsg.
 *
 * sockaddr_in  (16): | family u16 | port u16 BE | addr[4]  | zero[8] |
 * sockaddr_in6 (28): | family u16 | port u16 BE | flowinfo u32 | addr[16] | scope_id u32 |
 */

import { Errno } from "./errno.ts";
import { ErrnoError, FfiArgumentError } from "./errors.ts";
import { formatIp, parseIp } from "./inet.ts";
import {
  AF_INET,
  AF_INET6,
  addr,
  check,
  closeFd,
  errno,
  ffiBuffer,
  getSockOptInt,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  MSG_DONTWAIT,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOL_SOCKET,
  setSockOptInt,
  sys,
} from "./libc.ts";

export const SOCKADDR_MAX = 32;

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

/** A socket address in an FFI-safe 32-byte buffer, with its length for the kernel. */
export interface SockAddr {
  readonly bytes: Uint8Array;
  readonly len: number;
}

/** Encodes `ep` for a socket of `family` (IPv4 endpoints become v4-mapped on an IPv6 socket). */
export function encodeSockaddr(ep: Endpoint, family: 4 | 6): SockAddr {
  const ip = parseIp(ep.ip);
  if (!ip) throw new FfiArgumentError("FFI_BAD_ADDRESS", `not an IP address: '${ep.ip}'`);
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 65535) {
    throw new FfiArgumentError("FFI_BAD_PORT", `bad port ${ep.port}`);
  }
  const out = ffiBuffer(SOCKADDR_MAX);
  const v = new DataView(out.buffer);
  v.setUint16(2, ep.port, false);
  if (family === 4) {
    if (ip.family !== 4) throw new FfiArgumentError("FFI_FAMILY", `IPv6 endpoint ${ep.ip} on an IPv4 socket`);
    v.setUint16(0, AF_INET, true);
    out.set(ip.bytes, 4);
    return { bytes: out, len: 16 };
  }
  v.setUint16(0, AF_INET6, true);
  if (ip.family === 4) {
    out[18] = 0xff;
    out[19] = 0xff;
    out.set(ip.bytes, 20);
  } else {
    out.set(ip.bytes, 8);
  }
  return { bytes: out, len: 28 };
}

/** Decodes a sockaddr_in/in6 (v4-mapped addresses come back as IPv4); null when unknown. */
export function decodeSockaddr(b: Uint8Array, len: number): Endpoint | null {
  if (len < 16 || b.length < len) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = v.getUint16(0, true);
  const port = v.getUint16(2, false);
  if (family === AF_INET) return { ip: formatIp(b.subarray(4, 8)), port };
  if (family === AF_INET6 && len >= 24) {
    const a = b.subarray(8, 24);
    const mapped = a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff && a[11] === 0xff;
    return { ip: formatIp(mapped ? a.subarray(12) : a), port };
  }
  return null;
}

export interface UdpSocketOptions {
  /** Address to bind; `0.0.0.0` (default) or `::` (dual-stack) or a specific address. */
  readonly bindAddress?: string;
  readonly port: number;
  /** SO_RCVBUF / SO_SNDBUF in bytes (forced past rmem_max when privileged). */
  readonly recvBuffer?: number;
  readonly sendBuffer?: number;
  readonly reusePort?: boolean;
}

export interface UdpSocket {
  readonly fd: number;
  readonly family: 4 | 6;
  /** The bound port (the kernel's choice when `port` was 0). */
  readonly port: number;
  readonly recvBuffer: number;
  readonly sendBuffer: number;
}

function setBuffer(fd: number, force: number, plain: number, size: number, what: string): void {
  try {
    setSockOptInt(fd, SOL_SOCKET, force, size, `${what}FORCE`);
  } catch {
    setSockOptInt(fd, SOL_SOCKET, plain, size, what);
  }
}

/** Creates and binds a blocking UDP socket. */
export function openUdpSocket(o: UdpSocketOptions): UdpSocket {
  const bindIp = o.bindAddress ?? "0.0.0.0";
  const ip = parseIp(bindIp);
  if (!ip) throw new FfiArgumentError("FFI_BAD_ADDRESS", `not an IP address: '${bindIp}'`);
  const family = ip.family;
  const fd = check(
    sys.socket(family === 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0),
    "socket(UDP)",
  );
  try {
    if (family === 6) setSockOptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY");
    if (o.reusePort) setSockOptInt(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
    if (o.recvBuffer) setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, o.recvBuffer, "SO_RCVBUF");
    if (o.sendBuffer) setBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, o.sendBuffer, "SO_SNDBUF");
    const sa = encodeSockaddr({ ip: bindIp, port: o.port }, family);
    check(sys.bind(fd, addr(sa.bytes), sa.len), "bind(UDP)", `${bindIp}:${o.port}`);
    const got = ffiBuffer(SOCKADDR_MAX);
    const gotLen = ffiBuffer(4);
    new DataView(gotLen.buffer).setUint32(0, SOCKADDR_MAX, true);
    check(sys.getsockname(fd, addr(got), addr(gotLen)), "getsockname");
    const port = new DataView(got.buffer).getUint16(2, false);
    return {
      fd,
      family,
      port,
      recvBuffer: getSockOptInt(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"),
      sendBuffer: getSockOptInt(fd, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"),
    };
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

/**
 * Sends one datagram without blocking. Returns false when the kernel refused it for now
 * (EAGAIN, ENOBUFS, ECONNREFUSED…); throws ErrnoError only for a bad descriptor.
 */
export function udpSendTo(fd: number, data: Uint8Array, to: SockAddr): boolean {
  const buf = ffiBuffer(data.length);
  buf.set(data);
  const r = Number(sys.sendto(fd, addr(buf), buf.length, MSG_DONTWAIT, addr(to.bytes), to.len));
  if (r >= 0) return true;
  const e = errno();
  if (e === Errno.EBADF || e === Errno.ENOTSOCK) throw new ErrnoError("sendto", e);
  return false;
}
