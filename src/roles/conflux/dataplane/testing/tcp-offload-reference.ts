/**
 * Test support: a slow, readable TypeScript reference of what the native offload paths must do
 * to bytes — splitting a virtio_net_hdr TSO super-packet into segments (TX) and coalescing a
 * run of TCP segments into one GSO write (RX) — plus crafted-packet builders and independent
 * checksum validators. Written from the rules (kernel tcp_gro_receive, RFC 793/1071/8200), not
 * from the C code.
 */

/* virtio_net_hdr (little-endian): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset */
export const VNET = 10;
export const VNET_F_NEEDS_CSUM = 1;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_TCPV6 = 4;
export const FIN = 0x01;
export const SYN = 0x02;
export const PSH = 0x08;
export const ACK = 0x10;
export const CWR = 0x80;
/** Coalescing limits: segments per run and bytes per IP packet. */
export const MAX_RUN_SEGMENTS = 64;
export const MAX_RUN_BYTES = 65_535;

export interface Vnet {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function vnetBytes(v: Vnet): Uint8Array {
  const b = new Uint8Array(VNET);
  const d = new DataView(b.buffer);
  b[0] = v.flags;
  b[1] = v.gsoType;
  d.setUint16(2, v.hdrLen, true);
  d.setUint16(4, v.gsoSize, true);
  d.setUint16(6, v.csumStart, true);
  d.setUint16(8, v.csumOffset, true);
  return b;
}

export function parseVnet(b: Uint8Array): Vnet {
  const d = new DataView(b.buffer, b.byteOffset, VNET);
  return {
    flags: b[0]!,
    gsoType: b[1]!,
    hdrLen: d.getUint16(2, true),
    gsoSize: d.getUint16(4, true),
    csumStart: d.getUint16(6, true),
    csumOffset: d.getUint16(8, true),
  };
}

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** One's complement 16-bit sum (not inverted, not folded beyond 16 bits). */
export function onesSum(b: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export const isV6 = (ip: Uint8Array) => ip[0]! >> 4 === 6;
export const l3Len = (ip: Uint8Array) => (isV6(ip) ? 40 : (ip[0]! & 15) * 4);

/** Pseudo-header sum for an L4 segment of `len` bytes with protocol `proto`. */
export function pseudoSum(ip: Uint8Array, proto: number, len: number): number {
  const addrs = isV6(ip) ? ip.subarray(8, 40) : ip.subarray(12, 20);
  return onesSum(addrs, proto + (len >>> 16) + (len & 0xffff));
}

export function ipv4HeaderOk(ip: Uint8Array): boolean {
  return isV6(ip) || onesSum(ip.subarray(0, l3Len(ip))) === 0xffff;
}

/** The L4 checksum (TCP or UDP) over the pseudo-header verifies. */
export function l4ChecksumOk(ip: Uint8Array, proto = 6): boolean {
  const l3 = l3Len(ip);
  const l4 = ip.subarray(l3);
  return onesSum(l4, pseudoSum(ip, proto, l4.length)) === 0xffff;
}

function setIpLength(ip: Uint8Array, total: number): void {
  if (isV6(ip)) dv(ip).setUint16(4, total - 40);
  else dv(ip).setUint16(2, total);
}

function fillIpv4Checksum(ip: Uint8Array): void {
  const l3 = l3Len(ip);
  dv(ip).setUint16(10, 0);
  dv(ip).setUint16(10, ~onesSum(ip.subarray(0, l3)) & 0xffff);
}

function fillTcpChecksum(ip: Uint8Array): void {
  const l3 = l3Len(ip);
  const tcp = ip.subarray(l3);
  dv(tcp).setUint16(16, 0);
  dv(tcp).setUint16(16, ~onesSum(tcp, pseudoSum(ip, 6, tcp.length)) & 0xffff);
}

export interface TcpSpec {
  v6?: boolean;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window?: number;
  /** TCP options, a multiple of 4 bytes. */
  options?: Uint8Array;
  /** IPv4 options, a multiple of 4 bytes. */
  ipOptions?: Uint8Array;
  payload: Uint8Array;
  id?: number;
  tos?: number;
  ttl?: number;
  /** IPv4 flags+fragment offset word (default DF). */
  frag?: number;
  /** Valid checksums (default true). */
  checksums?: boolean;
}

/** A TCP/IPv4 or TCP/IPv6 packet. */
export function tcpPacket(s: TcpSpec): Uint8Array {
  const opts = s.options ?? new Uint8Array(0);
  const l3 = s.v6 ? 40 : 20 + (s.ipOptions?.length ?? 0);
  const hl = l3 + 20 + opts.length;
  const p = new Uint8Array(hl + s.payload.length);
  const d = dv(p);
  if (s.v6) {
    d.setUint32(0, (6 << 28) | ((s.tos ?? 0) << 20) | 0x12345);
    p[6] = 6;
    p[7] = s.ttl ?? 64;
    p.set(s.src, 8);
    p.set(s.dst, 24);
  } else {
    p[0] = 0x40 | (l3 / 4);
    p[1] = s.tos ?? 0;
    d.setUint16(4, s.id ?? 0);
    d.setUint16(6, s.frag ?? 0x4000);
    p[8] = s.ttl ?? 64;
    p[9] = 6;
    p.set(s.src, 12);
    p.set(s.dst, 16);
    if (s.ipOptions) p.set(s.ipOptions, 20);
  }
  setIpLength(p, p.length);
  const t = p.subarray(l3);
  const td = dv(t);
  td.setUint16(0, s.sport);
  td.setUint16(2, s.dport);
  td.setUint32(4, s.seq >>> 0);
  td.setUint32(8, s.ack >>> 0);
  t[12] = ((20 + opts.length) / 4) << 4;
  t[13] = s.flags;
  td.setUint16(14, s.window ?? 512);
  t.set(opts, 20);
  p.set(s.payload, hl);
  if (s.checksums !== false) {
    if (!s.v6) fillIpv4Checksum(p);
    fillTcpChecksum(p);
  }
  return p;
}

/** NOP NOP Timestamps(TSval, TSecr): 12 bytes. */
export function timestampOption(tsval: number, tsecr: number): Uint8Array {
  const o = new Uint8Array(12);
  o[0] = 1;
  o[1] = 1;
  o[2] = 8;
  o[3] = 10;
  dv(o).setUint32(4, tsval >>> 0);
  dv(o).setUint32(8, tsecr >>> 0);
  return o;
}

export function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/**
 * TX reference: what a TUN read (virtio_net_hdr + packet) must become on the wire, one inner
 * packet per entry. `hdr_len` is ignored: the header length is csum_start + doff·4.
 */
export function referenceSegment(read: Uint8Array): Uint8Array[] {
  const v = parseVnet(read);
  const pkt = read.slice(VNET);
  if (v.gsoType === GSO_NONE) {
    if (v.flags & VNET_F_NEEDS_CSUM) {
      const at = v.csumStart + v.csumOffset;
      // The kernel left the pseudo-header sum in the field: summing over it completes it.
      dv(pkt).setUint16(at, ~onesSum(pkt.subarray(v.csumStart)) & 0xffff);
    }
    return [pkt];
  }
  const l3 = v.csumStart;
  const hl = l3 + (pkt[l3 + 12]! >> 4) * 4;
  const payload = pkt.subarray(hl);
  const n = Math.max(1, Math.ceil(payload.length / v.gsoSize));
  const d0 = dv(pkt);
  const id0 = d0.getUint16(4);
  const seq0 = d0.getUint32(l3 + 4);
  const flags0 = pkt[l3 + 13]!;
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const chunk = payload.subarray(i * v.gsoSize, Math.min(payload.length, (i + 1) * v.gsoSize));
    const seg = new Uint8Array(hl + chunk.length);
    seg.set(pkt.subarray(0, hl));
    seg.set(chunk, hl);
    setIpLength(seg, seg.length);
    if (!isV6(seg)) {
      dv(seg).setUint16(4, (id0 + i) & 0xffff);
      fillIpv4Checksum(seg);
    }
    dv(seg).setUint32(l3 + 4, (seq0 + i * v.gsoSize) >>> 0);
    let fl = flags0;
    if (i < n - 1) fl &= ~(FIN | PSH);
    if (i > 0) fl &= ~CWR;
    seg[l3 + 13] = fl;
    fillTcpChecksum(seg);
    out.push(seg);
  }
  return out;
}

interface Run {
  head: Uint8Array;
  l3: number;
  hl: number;
  mss: number;
  chunks: Uint8Array[];
  bytes: number;
  next: number;
  closed: boolean;
  psh: boolean;
}

/** Trims a decrypted inner packet to its IP length (what is delivered). */
export function ipTrim(p: Uint8Array): Uint8Array {
  const total = isV6(p) ? 40 + dv(p).getUint16(4) : dv(p).getUint16(2);
  return p.subarray(0, total);
}

function eligible(p: Uint8Array): { l3: number; hl: number } | null {
  let l3 = 0;
  if (!isV6(p)) {
    if (p.length >= 40 && p[0] === 0x45 && p[9] === 6 && (dv(p).getUint16(6) & 0x3fff) === 0) l3 = 20;
  } else if (p.length >= 60 && p[6] === 6) l3 = 40;
  if (!l3) return null;
  const hl = l3 + (p[l3 + 12]! >> 4) * 4;
  const fl = p[l3 + 13]!;
  if (hl < l3 + 20 || hl >= p.length || (fl !== ACK && fl !== (ACK | PSH))) return null;
  return { l3, hl };
}

function sameFlow(a: Uint8Array, b: Uint8Array, l3: number, hl: number): boolean {
  const eq = (x: number, y: number) => a.subarray(x, y).every((v, i) => v === b[x + i]);
  const ip =
    l3 === 20
      ? a[1] === b[1] && a[8] === b[8] && (a[6]! & 0x40) === (b[6]! & 0x40) && eq(12, 20)
      : eq(0, 4) && a[7] === b[7] && eq(8, 40);
  // ports, ack, window, options (tcp_gro_receive compares the flag word with the window)
  return ip && eq(l3, l3 + 4) && eq(l3 + 8, l3 + 12) && eq(l3 + 14, l3 + 16) && eq(l3 + 20, hl);
}

/**
 * IPv4 ids must count up along the run: a GSO write is renumbered that way by the kernel, so a
 * run with fixed ids (which inet_gro_receive allows under DF) would not round-trip.
 */
function idFollows(p: Uint8Array, head: Uint8Array, l3: number, segments: number): boolean {
  if (l3 !== 20) return true;
  const id = dv(p).getUint16(4);
  const first = dv(head).getUint16(4);
  return id === ((first + segments) & 0xffff);
}

/** RX reference: the TUN writes (virtio_net_hdr + packet) for a sequence of delivered packets. */
export function referenceCoalesce(packets: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let run: Run | null = null;
  const flush = () => {
    if (!run) return;
    const r: Run = run;
    run = null;
    if (r.chunks.length === 1) {
      out.push(concat(new Uint8Array(VNET), r.head.subarray(0, r.hl), r.chunks[0]!));
      return;
    }
    const p = concat(r.head.subarray(0, r.hl), ...r.chunks);
    setIpLength(p, p.length);
    if (r.l3 === 20) fillIpv4Checksum(p);
    if (r.psh) p[r.l3 + 13]! |= PSH;
    const tcpLen = p.length - r.l3;
    dv(p).setUint16(r.l3 + 16, pseudoSum(p, 6, tcpLen)); // folded, not inverted: the kernel completes it
    const v = vnetBytes({
      flags: VNET_F_NEEDS_CSUM,
      gsoType: r.l3 === 40 ? GSO_TCPV6 : GSO_TCPV4,
      hdrLen: r.hl,
      gsoSize: r.mss,
      csumStart: r.l3,
      csumOffset: 16,
    });
    out.push(concat(v, p));
  };
  for (const raw of packets) {
    const p = ipTrim(raw);
    const e = eligible(p);
    if (!e) {
      flush();
      out.push(concat(new Uint8Array(VNET), p));
      continue;
    }
    const payload = p.subarray(e.hl);
    const seq = dv(p).getUint32(e.l3 + 4);
    const psh = (p[e.l3 + 13]! & PSH) !== 0;
    const r = run as Run | null;
    if (
      r &&
      !r.closed &&
      r.l3 === e.l3 &&
      r.chunks.length < MAX_RUN_SEGMENTS &&
      r.bytes + payload.length <= MAX_RUN_BYTES &&
      payload.length <= r.mss &&
      e.hl === r.hl &&
      seq === r.next &&
      sameFlow(p, r.head, e.l3, e.hl) &&
      idFollows(p, r.head, e.l3, r.chunks.length)
    ) {
      r.chunks.push(payload);
      r.bytes += payload.length;
      r.next = (r.next + payload.length) >>> 0;
      if (psh) r.psh = r.closed = true;
      if (payload.length < r.mss) r.closed = true;
      continue;
    }
    flush();
    run = {
      head: p,
      l3: e.l3,
      hl: e.hl,
      mss: payload.length,
      chunks: [payload],
      bytes: p.length,
      next: (seq + payload.length) >>> 0,
      closed: psh,
      psh: false,
    };
  }
  flush();
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
