import { describe, expect, it } from "bun:test";
import { addr, closeFd, ffiBuffer, MSG_DONTWAIT, POLLIN, sys } from "./libc.ts";
import { decodeSockaddr, encodeSockaddr, openUdpSocket, udpSendTo } from "./udp.ts";

function recvOne(
  fd: number,
  timeoutMs: number,
): { data: Uint8Array; from: ReturnType<typeof decodeSockaddr> } | null {
  const pfd = ffiBuffer(8);
  const v = new DataView(pfd.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, POLLIN, true);
  if (sys.poll(addr(pfd), 1, timeoutMs) <= 0) return null;
  const buf = ffiBuffer(2048);
  const sa = ffiBuffer(32);
  const salen = ffiBuffer(4);
  new DataView(salen.buffer).setUint32(0, 32, true);
  const n = Number(sys.recvfrom(fd, addr(buf), buf.length, MSG_DONTWAIT, addr(sa), addr(salen)));
  if (n < 0) return null;
  return { data: buf.slice(0, n), from: decodeSockaddr(sa, new DataView(salen.buffer).getUint32(0, true)) };
}

describe("UDP sockets through libc", () => {
  it("encodes and decodes IPv4, IPv6 and v4-mapped socket addresses", () => {
    const v4 = encodeSockaddr({ ip: "198.18.0.7", port: 51820 }, 4);
    expect(v4.len).toBe(16);
    expect(decodeSockaddr(v4.bytes, v4.len)).toEqual({ ip: "198.18.0.7", port: 51820 });
    const mapped = encodeSockaddr({ ip: "198.18.0.7", port: 51820 }, 6);
    expect(mapped.len).toBe(28);
    expect(decodeSockaddr(mapped.bytes, mapped.len)).toEqual({ ip: "198.18.0.7", port: 51820 });
    const v6 = encodeSockaddr({ ip: "fd5e:1::9", port: 1 }, 6);
    expect(decodeSockaddr(v6.bytes, v6.len)).toEqual({ ip: "fd5e:1::9", port: 1 });
    expect(() => encodeSockaddr({ ip: "fd5e:1::9", port: 1 }, 4)).toThrow(/IPv6 endpoint/);
    expect(() => encodeSockaddr({ ip: "198.18.0.7", port: 70000 }, 4)).toThrow(/bad port/);
  });

  it("binds with large buffers and exchanges datagrams on loopback (IPv4 and dual-stack)", () => {
    const a = openUdpSocket({ bindAddress: "127.0.0.1", port: 0, recvBuffer: 1 << 20, sendBuffer: 1 << 20 });
    const b = openUdpSocket({ bindAddress: "::", port: 0, reusePort: true });
    try {
      expect(a.port).toBeGreaterThan(0);
      expect(a.recvBuffer).toBeGreaterThanOrEqual(1 << 20);
      expect(b.family).toBe(6);
      expect(
        udpSendTo(
          a.fd,
          new TextEncoder().encode("hi v6"),
          encodeSockaddr({ ip: "127.0.0.1", port: b.port }, 4),
        ),
      ).toBe(true);
      const got = recvOne(b.fd, 2000);
      expect(new TextDecoder().decode(got!.data)).toBe("hi v6");
      expect(got!.from).toEqual({ ip: "127.0.0.1", port: a.port });
      expect(
        udpSendTo(
          b.fd,
          new TextEncoder().encode("back"),
          encodeSockaddr({ ip: "127.0.0.1", port: a.port }, 6),
        ),
      ).toBe(true);
      expect(new TextDecoder().decode(recvOne(a.fd, 2000)!.data)).toBe("back");
    } finally {
      closeFd(a.fd);
      closeFd(b.fd);
    }
  });
});
