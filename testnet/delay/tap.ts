/**
 * Opens a TAP device through libc (bun:ffi): `open("/dev/net/tun")` + `ioctl(TUNSETIFF)`.
 * The device lives in the network namespace of the calling process and disappears when
 * the descriptor is closed (it is not made persistent), so a dead forwarder leaves no device.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

/** linux/if_tun.h */
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
/** struct ifreq: char ifr_name[IFNAMSIZ = 16]; short ifr_flags; ... (40 bytes on x86-64) */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;
const O_RDWR = 0o2;
const O_CLOEXEC = 0o2000000;

const libc = dlopen("libc.so.6", {
  open: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
});

/** Creates (or attaches to) TAP device `name` and returns its file descriptor. */
export function openTap(name: string): number {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length === 0 || nameBytes.length >= IFNAMSIZ) {
    throw new RangeError(`tap name must be 1..15 bytes: ${name}`);
  }
  const fd = libc.symbols.open(ptr(new TextEncoder().encode("/dev/net/tun\0")), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw new Error("open(/dev/net/tun) failed");
  const ifr = new Uint8Array(IFREQ_SIZE);
  ifr.set(nameBytes, 0);
  new DataView(ifr.buffer).setInt16(IFNAMSIZ, IFF_TAP | IFF_NO_PI, true);
  if (libc.symbols.ioctl(fd, TUNSETIFF, ptr(ifr)) < 0) {
    libc.symbols.close(fd);
    throw new Error(`ioctl(TUNSETIFF, ${name}) failed`);
  }
  return fd;
}

export function closeFd(fd: number): void {
  libc.symbols.close(fd);
}
