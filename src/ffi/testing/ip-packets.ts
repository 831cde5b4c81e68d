/** Hand-built IPv4/IPv6 ICMP echo packets with correct checksums, for tests of TUN paths. */

/** RFC 1071 Internet checksum over `b` (with an optional initial sum). */
export function inetChecksum(b: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface EchoSpec {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly id: number;
  readonly seq: number;
  readonly payload: Uint8Array;
  readonly ttl?: number;
}

/** An IPv4 packet carrying an ICMP echo request (type 8). */
export function icmpv4EchoRequest(e: EchoSpec): Uint8Array {
  const icmpLen = 8 + e.payload.length;
  const p = new Uint8Array(20 + icmpLen);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  v.setUint16(4, e.id ^ 0x5a5a);
  v.setUint16(6, 0x4000); // DF
  p[8] = e.ttl ?? 64;
  p[9] = 1; // ICMP
  p.set(e.src, 12);
  p.set(e.dst, 16);
  v.setUint16(10, inetChecksum(p.subarray(0, 20)));
  p[20] = 8;
  v.setUint16(24, e.id);
  v.setUint16(26, e.seq);
  p.set(e.payload, 28);
  v.setUint16(22, inetChecksum(p.subarray(20)));
  return p;
}

function pseudoSum6(src: Uint8Array, dst: Uint8Array, len: number, next: number): number {
  const ph = new Uint8Array(40);
  ph.set(src, 0);
  ph.set(dst, 16);
  new DataView(ph.buffer).setUint32(32, len);
  ph[39] = next;
  return ~inetChecksum(ph) & 0xffff;
}

/** An IPv6 packet carrying an ICMPv6 echo request (type 128). */
export function icmpv6EchoRequest(e: EchoSpec): Uint8Array {
  const icmpLen = 8 + e.payload.length;
  const p = new Uint8Array(40 + icmpLen);
  const v = new DataView(p.buffer);
  p[0] = 0x60;
  v.setUint16(4, icmpLen);
  p[6] = 58;
  p[7] = e.ttl ?? 64;
  p.set(e.src, 8);
  p.set(e.dst, 24);
  p[40] = 128;
  v.setUint16(44, e.id);
  v.setUint16(46, e.seq);
  p.set(e.payload, 48);
  v.setUint16(42, inetChecksum(p.subarray(40), pseudoSum6(e.src, e.dst, icmpLen, 58)));
  return p;
}

export interface ParsedEcho {
  readonly family: 4 | 6;
  readonly type: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly id: number;
  readonly seq: number;
  readonly payload: Uint8Array;
  readonly ipChecksumOk: boolean;
  readonly icmpChecksumOk: boolean;
}

/** Parses an IPv4 ICMP or IPv6 ICMPv6 echo packet; null for anything else. */
export function parseEcho(p: Uint8Array): ParsedEcho | null {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p.length >= 28 && p[0]! >> 4 === 4 && p[9] === 1) {
    const ihl = (p[0]! & 15) * 4;
    const total = v.getUint16(2);
    if (total > p.length || total < ihl + 8) return null;
    const icmp = p.subarray(ihl, total);
    return {
      family: 4,
      type: icmp[0]!,
      src: p.slice(12, 16),
      dst: p.slice(16, 20),
      id: v.getUint16(ihl + 4),
      seq: v.getUint16(ihl + 6),
      payload: icmp.slice(8),
      ipChecksumOk: inetChecksum(p.subarray(0, ihl)) === 0,
      icmpChecksumOk: inetChecksum(icmp) === 0,
    };
  }
  if (p.length >= 48 && p[0]! >> 4 === 6 && p[6] === 58) {
    const len = v.getUint16(4);
    if (40 + len > p.length || len < 8) return null;
    const icmp = p.subarray(40, 40 + len);
    const src = p.slice(8, 24);
    const dst = p.slice(24, 40);
    return {
      family: 6,
      type: icmp[0]!,
      src,
      dst,
      id: v.getUint16(44),
      seq: v.getUint16(46),
      payload: icmp.slice(8),
      ipChecksumOk: true,
      icmpChecksumOk: inetChecksum(icmp, pseudoSum6(src, dst, len, 58)) === 0,
    };
  }
  return null;
}

/** An IPv4/UDP packet (UDP checksum 0 = none, allowed for IPv4). */
export function udpv4Packet(
  src: Uint8Array,
  dst: Uint8Array,
  sport: number,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const p = new Uint8Array(28 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  v.setUint16(6, 0x4000);
  p[8] = 64;
  p[9] = 17;
  p.set(src, 12);
  p.set(dst, 16);
  v.setUint16(10, inetChecksum(p.subarray(0, 20)));
  v.setUint16(20, sport);
  v.setUint16(22, dport);
  v.setUint16(24, 8 + payload.length);
  p.set(payload, 28);
  return p;
}

/** True when an IPv4/UDP packet's UDP checksum verifies (or is 0, meaning none). */
export function udpv4ChecksumOk(p: Uint8Array): boolean {
  const ihl = (p[0]! & 15) * 4;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p.length < ihl + 8 || p[9] !== 17) return false;
  const udpLen = v.getUint16(ihl + 4);
  if (ihl + udpLen > p.length) return false;
  if (v.getUint16(ihl + 6) === 0) return true;
  const ph = new Uint8Array(12);
  ph.set(p.subarray(12, 20));
  ph[9] = 17;
  new DataView(ph.buffer).setUint16(10, udpLen);
  return inetChecksum(p.subarray(ihl, ihl + udpLen), ~inetChecksum(ph) & 0xffff) === 0;
}
