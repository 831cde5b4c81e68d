/**
 * Linux TUN devices over libc: `open("/dev/net/tun")` + `ioctl(TUNSETIFF)`.
 *
 * ifreq (40 bytes):  | ifr_name[16] (NUL-terminated) | ifr_flags u16 | padding … |
 */

import { FfiArgumentError } from "./errors.ts";
import {
  addr,
  check,
  closeFd,
  cString,
  ffiBuffer,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  setNonBlocking,
  sys,
} from "./libc.ts";

/* Kernel constants (include/uapi/linux/if_tun.h) */
export const TUNSETIFF = 0x400454ca;
export const TUNGETIFF = 0x800454d2;
export const TUNSETOFFLOAD = 0x400454d0;
export const TUNSETVNETHDRSZ = 0x400454d8;
export const IFF_TUN = 0x0001;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_VNET_HDR = 0x4000;
export const IFF_NO_PI = 0x1000;
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_UFO = 0x10;
export const IFNAMSIZ = 16;
export const IFREQ_SIZE = 40;
/** Size of `struct virtio_net_hdr` that precedes every packet when IFF_VNET_HDR is set. */
export const VIRTIO_NET_HDR_LEN = 10;

export interface TunOptions {
  /** Interface name (≤ 15 bytes); a `%d` pattern such as `vn%d` lets the kernel pick. */
  readonly name: string;
  /** IFF_MULTI_QUEUE: open the same name again to get another queue. */
  readonly multiQueue?: boolean;
  /** IFF_VNET_HDR: every read/write carries a 10-byte virtio_net_hdr. */
  readonly vnetHdr?: boolean;
  /** TUNSETOFFLOAD flags (TUN_F_*), passed by value; requires `vnetHdr`. */
  readonly offload?: number;
  /** Open the fd with O_NONBLOCK (default false). */
  readonly nonBlocking?: boolean;
}

export interface Tun {
  /** The file descriptor; owned by the caller, closed by {@link closeTun}. */
  readonly fd: number;
  /** The name the kernel actually gave the device. */
  readonly name: string;
  readonly vnetHdr: boolean;
  readonly offload: number;
}

/** Creates (or attaches to) a TUN device; throws ErrnoError/FfiArgumentError. Needs CAP_NET_ADMIN. */
export function openTun(opts: TunOptions): Tun {
  const nameBytes = new TextEncoder().encode(opts.name);
  if (nameBytes.length === 0 || nameBytes.length >= IFNAMSIZ || nameBytes.includes(0)) {
    throw new FfiArgumentError("FFI_BAD_IFNAME", `interface name must be 1..15 bytes: '${opts.name}'`);
  }
  if (opts.offload && !opts.vnetHdr) {
    throw new FfiArgumentError("FFI_OFFLOAD_NEEDS_VNET", "TUN offload requires vnetHdr");
  }
  const flags = O_RDWR | O_CLOEXEC | (opts.nonBlocking ? O_NONBLOCK : 0);
  const fd = check(sys.open(cString("/dev/net/tun"), flags, 0), "open", "/dev/net/tun");
  try {
    const ifr = ffiBuffer(IFREQ_SIZE);
    ifr.set(nameBytes);
    const ifFlags =
      IFF_TUN | IFF_NO_PI | (opts.multiQueue ? IFF_MULTI_QUEUE : 0) | (opts.vnetHdr ? IFF_VNET_HDR : 0);
    new DataView(ifr.buffer).setUint16(IFNAMSIZ, ifFlags, true);
    check(sys.ioctl(fd, TUNSETIFF, addr(ifr)), "ioctl(TUNSETIFF)", opts.name);
    const end = ifr.indexOf(0);
    const name = new TextDecoder().decode(ifr.subarray(0, end < 0 ? IFNAMSIZ : end));
    const offload = opts.offload ?? 0;
    if (opts.vnetHdr) {
      const sz = ffiBuffer(4);
      new DataView(sz.buffer).setInt32(0, VIRTIO_NET_HDR_LEN, true);
      check(sys.ioctl(fd, TUNSETVNETHDRSZ, addr(sz)), "ioctl(TUNSETVNETHDRSZ)", name);
      check(sys.ioctl(fd, TUNSETOFFLOAD, offload), "ioctl(TUNSETOFFLOAD)", name);
    }
    return { fd, name, vnetHdr: opts.vnetHdr ?? false, offload };
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

/** The IFF_* flags of an open TUN fd (TUNGETIFF), e.g. to see whether it carries IFF_VNET_HDR. */
export function tunFlags(fd: number): number {
  const ifr = ffiBuffer(IFREQ_SIZE);
  check(sys.ioctl(fd, TUNGETIFF, addr(ifr)), "ioctl(TUNGETIFF)");
  return new DataView(ifr.buffer).getUint16(IFNAMSIZ, true);
}

/** Switches a TUN fd between blocking and non-blocking reads. */
export function setTunNonBlocking(tun: Tun, on: boolean): void {
  setNonBlocking(tun.fd, on);
}

/** Closes the fd; a non-persistent TUN disappears with its last fd. */
export function closeTun(tun: Tun): void {
  closeFd(tun.fd);
}
