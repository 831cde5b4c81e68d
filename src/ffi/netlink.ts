/**
 * A minimal rtnetlink client over an AF_NETLINK socket from FFI: one request, one ACK.
 *
 * nlmsghdr (16 bytes, host order = LE here):
 *  0          4          6          8          12         16
 *  | len u32  | type u16 | flags u16| seq u32  | pid u32  | payload (family header + rtattrs) …
 * rtattr: | len u16 | type u16 | value … | padded to 4 bytes
 */
import { ErrnoError, KernelProtocolError } from "./errors.ts";
import { AF_NETLINK, addr, check, closeFd, ffiBuffer, POLLIN, SOCK_CLOEXEC, SOCK_RAW, sys } from "./libc.ts";

/* Specification constants (include/uapi/linux/netlink.h, rtnetlink.h) */
export const NETLINK_ROUTE = 0;
export const NLMSG_HDRLEN = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const RTM_NEWLINK = 16;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;

/* Implementation constants */
const ACK_TIMEOUT_MS = 2000;
const RECV_BUFFER = 8192;
const SOCKADDR_NL_SIZE = 12;

/** Builds one netlink message: header, fixed family struct, then rtattrs. */
export class NlMessage {
  private readonly parts: Uint8Array[] = [];
  private length = NLMSG_HDRLEN;
  constructor(
    readonly type: number,
    readonly flags: number,
    fixed: Uint8Array,
  ) {
    this.push(fixed);
  }

  private push(b: Uint8Array): void {
    const padded = (b.length + 3) & ~3;
    const copy = new Uint8Array(padded);
    copy.set(b);
    this.parts.push(copy);
    this.length += padded;
  }

  /** Appends an rtattr carrying raw bytes. */
  attr(type: number, value: Uint8Array): this {
    const a = new Uint8Array(4 + value.length);
    const v = new DataView(a.buffer);
    v.setUint16(0, 4 + value.length, true);
    v.setUint16(2, type, true);
    a.set(value, 4);
    this.push(a);
    return this;
  }

  /** Appends an rtattr carrying a host-order u32. */
  attrU32(type: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.attr(type, b);
  }

  /** Serializes with sequence number `seq` into an FFI-safe buffer. */
  encode(seq: number): Uint8Array {
    const out = ffiBuffer(this.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, this.length, true);
    v.setUint16(4, this.type, true);
    v.setUint16(6, this.flags | NLM_F_REQUEST | NLM_F_ACK, true);
    v.setUint32(8, seq >>> 0, true);
    v.setUint32(12, 0, true);
    let off = NLMSG_HDRLEN;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

let nextSeq = (Date.now() & 0xffff) << 8;

/**
 * Sends `msg` to the kernel on a fresh NETLINK_ROUTE socket and waits for its ACK.
 * Throws ErrnoError with the kernel's errno (e.g. EEXIST) when the request is refused.
 */
export function rtnlRequest(msg: NlMessage, what: string): void {
  const fd = check(sys.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "socket(AF_NETLINK)");
  try {
    const sa = ffiBuffer(SOCKADDR_NL_SIZE);
    new DataView(sa.buffer).setUint16(0, AF_NETLINK, true);
    check(sys.bind(fd, addr(sa), SOCKADDR_NL_SIZE), "bind(AF_NETLINK)");
    nextSeq = (nextSeq + 1) >>> 0;
    const seq = nextSeq;
    const req = msg.encode(seq);
    check(sys.sendto(fd, addr(req), req.length, 0, addr(sa), SOCKADDR_NL_SIZE), "sendto(netlink)", what);
    awaitAck(fd, seq, what);
  } finally {
    closeFd(fd);
  }
}

function awaitAck(fd: number, seq: number, what: string): void {
  const buf = ffiBuffer(RECV_BUFFER);
  const pfd = ffiBuffer(8);
  const pv = new DataView(pfd.buffer);
  const deadline = Date.now() + ACK_TIMEOUT_MS;
  for (;;) {
    pv.setInt32(0, fd, true);
    pv.setInt16(4, POLLIN, true);
    pv.setInt16(6, 0, true);
    const left = deadline - Date.now();
    if (left <= 0 || check(sys.poll(addr(pfd), 1, left), "poll(netlink)") === 0) {
      throw new KernelProtocolError("FFI_NETLINK_TIMEOUT", `no netlink ACK for ${what}`);
    }
    const n = check(sys.recvfrom(fd, addr(buf), RECV_BUFFER, 0, 0, 0), "recv(netlink)", what);
    const v = new DataView(buf.buffer, 0, n);
    let off = 0;
    while (off + NLMSG_HDRLEN <= n) {
      const len = v.getUint32(off, true);
      const type = v.getUint16(off + 4, true);
      const mseq = v.getUint32(off + 8, true);
      if (len < NLMSG_HDRLEN || off + len > n) {
        throw new KernelProtocolError("FFI_NETLINK_TRUNCATED", `truncated netlink reply for ${what}`);
      }
      if (mseq === seq && type === NLMSG_ERROR) {
        if (len < NLMSG_HDRLEN + 4)
          throw new KernelProtocolError("FFI_NETLINK_SHORT", `short ACK for ${what}`);
        const err = v.getInt32(off + NLMSG_HDRLEN, true);
        if (err !== 0) throw new ErrnoError("rtnetlink", -err, what);
        return;
      }
      if (mseq === seq && type === NLMSG_DONE) return;
      off += (len + 3) & ~3;
    }
  }
}
