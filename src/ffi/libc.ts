/**
 * The one `dlopen("libc.so.6")` of veilnet, with a typed symbol table.
 *
 * Conventions for every caller:
 * - Every buffer whose address crosses FFI is allocated as `new Uint8Array(new ArrayBuffer(n))`
 *   (use {@link ffiBuffer}). JSC keeps small typed arrays inline and may move them, so a `ptr()`
 *   of a literal-sized array can go stale and native code would read old memory.
 * - Pointer arguments are passed as numbers from `ptr(buf)`; the caller keeps `buf` referenced.
 * - After a call returns -1, {@link errno} reads this thread's errno before anything else runs.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { ErrnoError } from "./errors.ts";

/* Linux x86-64 / generic ABI constants used by the bindings */
export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_REUSEPORT = 15;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const IPPROTO_IP = 0;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_UDP = 17;
export const IPV6_V6ONLY = 26;
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const MSG_DONTWAIT = 0x40;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const RTLD_NOW = 0x2;
export const RTLD_GLOBAL = 0x100;
export const CLONE_NEWNET = 0x40000000;

/** `ptr()` values are plain numbers; libc signatures below take them as u64. */
const libc = dlopen("libc.so.6", {
  open: { args: ["ptr", "i32", "u32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  read: { args: ["i32", "u64", "u64"], returns: FFIType.i64_fast },
  write: { args: ["i32", "u64", "u64"], returns: FFIType.i64_fast },
  ioctl: { args: ["i32", "u64", "u64"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "u64"], returns: "i32" },
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  bind: { args: ["i32", "u64", "u32"], returns: "i32" },
  connect: { args: ["i32", "u64", "u32"], returns: "i32" },
  getsockname: { args: ["i32", "u64", "u64"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "u64", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "u64", "u64"], returns: "i32" },
  sendto: { args: ["i32", "u64", "u64", "i32", "u64", "u32"], returns: FFIType.i64_fast },
  recvfrom: { args: ["i32", "u64", "u64", "i32", "u64", "u64"], returns: FFIType.i64_fast },
  sendmmsg: { args: ["i32", "u64", "u32", "i32"], returns: "i32" },
  recvmmsg: { args: ["i32", "u64", "u32", "i32", "u64"], returns: "i32" },
  poll: { args: ["u64", "u64", "i32"], returns: "i32" },
  eventfd: { args: ["u32", "i32"], returns: "i32" },
  pipe2: { args: ["u64", "i32"], returns: "i32" },
  setns: { args: ["i32", "i32"], returns: "i32" },
  if_nametoindex: { args: ["ptr"], returns: "u32" },
  strerror: { args: ["i32"], returns: "cstring" },
  __errno_location: { args: [], returns: "ptr" },
  dlopen: { args: ["ptr", "i32"], returns: FFIType.u64_fast },
  dlerror: { args: [], returns: "cstring" },
});

/** The raw symbol table. Prefer the checked wrappers below outside hot paths. */
export const sys = libc.symbols;

/** A buffer that is safe to hand to native code (out-of-line backing store, stable address). */
export function ffiBuffer(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}

/** NUL-terminated copy of `s` in an FFI-safe buffer. */
export function cString(s: string): Uint8Array {
  const bytes = new TextEncoder().encode(s);
  const out = ffiBuffer(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** The address of an FFI-safe buffer (see {@link ffiBuffer}). */
export function addr(buf: Uint8Array): number {
  return buf.byteLength === 0 ? 0 : ptr(buf);
}

/** This thread's errno; read it immediately after the failing call. */
export function errno(): number {
  const p = sys.__errno_location();
  return p === null ? 0 : read.i32(p, 0);
}

/** Throws {@link ErrnoError} when `ret` is negative; returns `ret` otherwise. */
export function check(ret: number | bigint, call: string, detail?: string): number {
  const r = Number(ret);
  if (r < 0) throw new ErrnoError(call, errno(), detail);
  return r;
}

/** `close(fd)`, ignoring EINTR (Linux closes the descriptor anyway). */
export function closeFd(fd: number): void {
  if (fd >= 0) sys.close(fd);
}

/** Sets or clears O_NONBLOCK on `fd`. */
export function setNonBlocking(fd: number, on: boolean): void {
  const flags = check(sys.fcntl(fd, F_GETFL, 0), "fcntl(F_GETFL)");
  const next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (next !== flags) check(sys.fcntl(fd, F_SETFL, next), "fcntl(F_SETFL)");
}

/** `setsockopt` with a 32-bit integer value. */
export function setSockOptInt(fd: number, level: number, name: number, value: number, what: string): void {
  const v = ffiBuffer(4);
  new DataView(v.buffer).setInt32(0, value, true);
  check(sys.setsockopt(fd, level, name, addr(v), 4), "setsockopt", what);
}

/** `getsockopt` of a 32-bit integer value. */
export function getSockOptInt(fd: number, level: number, name: number, what: string): number {
  const v = ffiBuffer(4);
  const len = ffiBuffer(4);
  new DataView(len.buffer).setUint32(0, 4, true);
  check(sys.getsockopt(fd, level, name, addr(v), addr(len)), "getsockopt", what);
  return new DataView(v.buffer).getInt32(0, true);
}

/** Interface index of `name`, or 0 when there is no such interface. */
export function ifNameToIndex(name: string): number {
  return sys.if_nametoindex(cString(name));
}

/** A fresh `eventfd` (non-blocking, close-on-exec), used to wake threads blocked in `poll`. */
export function createEventFd(): number {
  return check(sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd");
}

/** A pipe with both ends non-blocking and close-on-exec: `[readFd, writeFd]`. */
export function createPipe(): [number, number] {
  const fds = ffiBuffer(8);
  check(sys.pipe2(addr(fds), O_CLOEXEC | O_NONBLOCK), "pipe2");
  const v = new DataView(fds.buffer, fds.byteOffset, 8);
  return [v.getInt32(0, true), v.getInt32(4, true)];
}

/** Adds 1 to an eventfd counter, waking every `poll` that waits on it. */
export function signalEventFd(fd: number): void {
  const one = ffiBuffer(8);
  one[0] = 1;
  sys.write(fd, addr(one), 8);
}

/**
 * Loads a shared library with RTLD_GLOBAL so code compiled later with `bun:ffi`'s `cc` can link
 * against its symbols. Returns false when the library is absent.
 */
export function loadGlobalLibrary(soname: string): boolean {
  return sys.dlopen(cString(soname), RTLD_NOW | RTLD_GLOBAL) !== 0;
}
