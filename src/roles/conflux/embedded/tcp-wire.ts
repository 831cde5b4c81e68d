/**
 * IPv4 + TCP headers for the userspace TCP endpoint (RFC 791, RFC 9293, options from RFC 7323
 * and RFC 2018): parse into a reused record, build in place, Internet checksums. Hostile input:
 * every length is checked before it is used; parse returns a reason code, never throws.
 *
 *   IPv4 (20, no options sent)         TCP (20 + options)
 *   | 45 | tos | total len |           | src port | dst port | seq | ack | off/flags | window |
 *   | id | DF, frag off = 0 |          | checksum | urgent | options … | payload …
 *   | ttl | proto 6 | csum | src | dst |
 */

/* Specification constants */
export const IPV4_HEADER_SIZE = 20;
export const TCP_HEADER_SIZE = 20;
export const IPPROTO_TCP = 6;
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WSCALE = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
/** RFC 7323: the largest window shift. */
export const MAX_WSCALE = 14;
/** SACK blocks we send in one ACK (4 fit without timestamps; 3 leaves room, as most stacks do). */
export const MAX_SACK_BLOCKS = 3;
const IP_FLAG_MF = 0x2000;
const IP_FRAG_OFFSET = 0x1fff;

/* Implementation constants */
export const DEFAULT_TTL = 64;

export const Parse = {
  Ok: 0,
  NotIPv4: 1,
  NotTcp: 2,
  Fragment: 3,
  Malformed: 4,
  BadChecksum: 5,
} as const;

/** A decoded segment; one instance is reused for every packet (`data` is a view into the packet). */
export interface Segment {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Options: -1 when absent. */
  mss: number;
  wscale: number;
  sackPermitted: boolean;
  sackCount: number;
  /** Wire sequence numbers, left/right pairs. */
  readonly sack: Uint32Array;
  data: Uint8Array;
}

export function newSegment(): Segment {
  return {
    srcIp: 0,
    dstIp: 0,
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    mss: -1,
    wscale: -1,
    sackPermitted: false,
    sackCount: 0,
    sack: new Uint32Array(8),
    data: new Uint8Array(0),
  };
}

/** Ones'-complement sum of `b[off, off+len)` as 16-bit big-endian words, added to `sum` (unfolded). */
export function sum16(b: Uint8Array, off: number, len: number, sum: number): number {
  const end = off + (len & ~1);
  let s = sum;
  for (let i = off; i < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (len & 1) s += b[off + len - 1]! << 8;
  return s;
}

export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

function pseudoSum(src: number, dst: number, tcpLen: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + IPPROTO_TCP + tcpLen;
}

/** Parses an IPv4/TCP packet into `out`; returns a Parse code. Verifies both checksums. */
export function parseTcpPacket(p: Uint8Array, out: Segment): number {
  const len = p.length;
  if (len < IPV4_HEADER_SIZE || p[0]! >> 4 !== 4) return Parse.NotIPv4;
  const ihl = (p[0]! & 15) * 4;
  const total = (p[2]! << 8) | p[3]!;
  if (ihl < IPV4_HEADER_SIZE || total < ihl || total > len) return Parse.Malformed;
  if (p[9] !== IPPROTO_TCP) return Parse.NotTcp;
  const frag = (p[6]! << 8) | p[7]!;
  if (frag & (IP_FLAG_MF | IP_FRAG_OFFSET)) return Parse.Fragment;
  if (fold(sum16(p, 0, ihl, 0)) !== 0xffff) return Parse.BadChecksum;
  const t = ihl;
  const tcpLen = total - ihl;
  if (tcpLen < TCP_HEADER_SIZE) return Parse.Malformed;
  const dataOff = (p[t + 12]! >> 4) * 4;
  if (dataOff < TCP_HEADER_SIZE || dataOff > tcpLen) return Parse.Malformed;
  const src = readU32(p, 12);
  const dst = readU32(p, 16);
  if (fold(sum16(p, t, tcpLen, pseudoSum(src, dst, tcpLen))) !== 0xffff) return Parse.BadChecksum;
  out.srcIp = src;
  out.dstIp = dst;
  out.srcPort = (p[t]! << 8) | p[t + 1]!;
  out.dstPort = (p[t + 2]! << 8) | p[t + 3]!;
  out.seq = readU32(p, t + 4);
  out.ack = readU32(p, t + 8);
  out.flags = p[t + 13]! & 0x3f;
  out.window = (p[t + 14]! << 8) | p[t + 15]!;
  out.mss = -1;
  out.wscale = -1;
  out.sackPermitted = false;
  out.sackCount = 0;
  if (!parseOptions(p, t + TCP_HEADER_SIZE, t + dataOff, out)) return Parse.Malformed;
  out.data = p.subarray(t + dataOff, total);
  return Parse.Ok;
}

function parseOptions(p: Uint8Array, from: number, to: number, out: Segment): boolean {
  let i = from;
  while (i < to) {
    const kind = p[i]!;
    if (kind === OPT_END) return true;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= to) return false;
    const olen = p[i + 1]!;
    if (olen < 2 || i + olen > to) return false;
    if (kind === OPT_MSS && olen === 4) out.mss = (p[i + 2]! << 8) | p[i + 3]!;
    else if (kind === OPT_WSCALE && olen === 3) out.wscale = Math.min(p[i + 2]!, MAX_WSCALE);
    else if (kind === OPT_SACK_PERMITTED && olen === 2) out.sackPermitted = true;
    else if (kind === OPT_SACK && (olen - 2) % 8 === 0) {
      const n = Math.min((olen - 2) / 8, 4);
      for (let k = 0; k < n; k++) {
        out.sack[2 * k] = readU32(p, i + 2 + 8 * k);
        out.sack[2 * k + 1] = readU32(p, i + 6 + 8 * k);
      }
      out.sackCount = n;
    }
    i += olen;
  }
  return true;
}

/** Options of a SYN or SYN-ACK: MSS, window scale (when ≥ 0), SACK-permitted (12 bytes). */
export function synOptions(mss: number, wscale: number, sackPermitted: boolean): Uint8Array {
  const o: number[] = [OPT_MSS, 4, (mss >> 8) & 0xff, mss & 0xff];
  if (wscale >= 0) o.push(OPT_NOP, OPT_WSCALE, 3, wscale);
  if (sackPermitted) o.push(OPT_NOP, OPT_NOP, OPT_SACK_PERMITTED, 2);
  return Uint8Array.from(o);
}

/** Writes SACK blocks (wire seqs, left/right pairs) as options into `o`; returns their length. */
export function writeSackOption(o: Uint8Array, blocks: Uint32Array, count: number): number {
  if (count === 0) return 0;
  o[0] = OPT_NOP;
  o[1] = OPT_NOP;
  o[2] = OPT_SACK;
  o[3] = 2 + 8 * count;
  for (let k = 0; k < count; k++) {
    writeU32(o, 4 + 8 * k, blocks[2 * k]!);
    writeU32(o, 8 + 8 * k, blocks[2 * k + 1]!);
  }
  return 4 + 8 * count;
}

export interface TcpHeaderFields {
  src: number;
  dst: number;
  ipId: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
}

/**
 * Writes the IPv4 and TCP headers at `b[pos…]` in front of options already at `pos+40` and the
 * payload after them, and both checksums. Returns the packet length.
 */
export function writeTcpPacket(
  b: Uint8Array,
  pos: number,
  f: TcpHeaderFields,
  optLen: number,
  payloadLen: number,
): number {
  const tcpLen = TCP_HEADER_SIZE + optLen + payloadLen;
  const total = IPV4_HEADER_SIZE + tcpLen;
  b[pos] = 0x45;
  b[pos + 1] = 0;
  b[pos + 2] = total >> 8;
  b[pos + 3] = total & 0xff;
  b[pos + 4] = (f.ipId >> 8) & 0xff;
  b[pos + 5] = f.ipId & 0xff;
  b[pos + 6] = 0x40; // DF
  b[pos + 7] = 0;
  b[pos + 8] = DEFAULT_TTL;
  b[pos + 9] = IPPROTO_TCP;
  b[pos + 10] = 0;
  b[pos + 11] = 0;
  writeU32(b, pos + 12, f.src);
  writeU32(b, pos + 16, f.dst);
  const ipSum = ~fold(sum16(b, pos, IPV4_HEADER_SIZE, 0)) & 0xffff;
  b[pos + 10] = ipSum >> 8;
  b[pos + 11] = ipSum & 0xff;
  const t = pos + IPV4_HEADER_SIZE;
  b[t] = f.srcPort >> 8;
  b[t + 1] = f.srcPort & 0xff;
  b[t + 2] = f.dstPort >> 8;
  b[t + 3] = f.dstPort & 0xff;
  writeU32(b, t + 4, f.seq);
  writeU32(b, t + 8, f.ack);
  b[t + 12] = ((TCP_HEADER_SIZE + optLen) / 4) << 4;
  b[t + 13] = f.flags;
  b[t + 14] = (f.window >> 8) & 0xff;
  b[t + 15] = f.window & 0xff;
  b[t + 16] = 0;
  b[t + 17] = 0;
  b[t + 18] = 0;
  b[t + 19] = 0;
  const tcpSum = ~fold(sum16(b, t, tcpLen, pseudoSum(f.src, f.dst, tcpLen))) & 0xffff;
  b[t + 16] = tcpSum >> 8;
  b[t + 17] = tcpSum & 0xff;
  return total;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export function ipv4ToU32(ip: string): number {
  const parts = ip.split(".").map(Number);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function u32ToIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}
