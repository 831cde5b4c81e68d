/**
 * Overlay route table of the embedded plane: longest-prefix match from an inner destination
 * address to a peer slot. Host routes (/32, /128, the only kind the peer manager installs) are one
 * map lookup; shorter prefixes are few and scanned longest first.
 */
import { parsePrefix } from "../../../ffi/inet.ts";
import { EmbeddedConfigError } from "./errors.ts";

interface Wide {
  readonly key: string;
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly len: number;
  readonly slot: number;
}

export class RouteTable {
  /** IPv4 host routes: address as u32 → slot. */
  readonly #v4 = new Map<number, number>();
  /** IPv6 host routes: 16 bytes as hex → slot. */
  readonly #v6 = new Map<string, number>();
  /** Shorter prefixes, longest first. */
  #wide: Wide[] = [];

  set(prefix: string, slot: number): void {
    const p = parsePrefixChecked(prefix);
    const key = canonical(p.family, p.bytes, p.prefixLen);
    this.delete(prefix);
    if (p.family === 4 && p.prefixLen === 32) this.#v4.set(u32(p.bytes, 0), slot);
    else if (p.family === 6 && p.prefixLen === 128) this.#v6.set(hex16(p.bytes, 0), slot);
    else {
      this.#wide.push({ key, family: p.family, bytes: p.bytes, len: p.prefixLen, slot });
      this.#wide.sort((a, b) => b.len - a.len);
    }
  }

  delete(prefix: string): boolean {
    const p = parsePrefixChecked(prefix);
    if (p.family === 4 && p.prefixLen === 32) return this.#v4.delete(u32(p.bytes, 0));
    if (p.family === 6 && p.prefixLen === 128) return this.#v6.delete(hex16(p.bytes, 0));
    const key = canonical(p.family, p.bytes, p.prefixLen);
    const before = this.#wide.length;
    this.#wide = this.#wide.filter((w) => w.key !== key);
    return this.#wide.length !== before;
  }

  deleteSlot(slot: number): void {
    for (const [k, s] of this.#v4) if (s === slot) this.#v4.delete(k);
    for (const [k, s] of this.#v6) if (s === slot) this.#v6.delete(k);
    this.#wide = this.#wide.filter((w) => w.slot !== slot);
  }

  /** Slot for the IPv4 destination at `pkt[off, off+4)`, or -1. */
  lookupV4(pkt: Uint8Array, off: number): number {
    const s = this.#v4.get(u32(pkt, off));
    if (s !== undefined) return s;
    return this.#scanWide(4, pkt, off);
  }

  /** Slot for the IPv6 destination at `pkt[off, off+16)`, or -1. */
  lookupV6(pkt: Uint8Array, off: number): number {
    if (this.#v6.size > 0) {
      const s = this.#v6.get(hex16(pkt, off));
      if (s !== undefined) return s;
    }
    return this.#scanWide(6, pkt, off);
  }

  #scanWide(family: 4 | 6, pkt: Uint8Array, off: number): number {
    for (const w of this.#wide)
      if (w.family === family && prefixMatch(w.bytes, pkt, off, w.len)) return w.slot;
    return -1;
  }
}

/** True when the first `len` bits of `net` equal those at `addr[off…]`. */
export function prefixMatch(net: Uint8Array, addr: Uint8Array, off: number, len: number): boolean {
  let i = 0;
  for (; len >= 8; i++, len -= 8) if (net[i] !== addr[off + i]) return false;
  if (len === 0) return true;
  const mask = (0xff << (8 - len)) & 0xff;
  return ((net[i]! ^ addr[off + i]!) & mask) === 0;
}

export function u32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function hex16(b: Uint8Array, off: number): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += (b[off + i]! | 0x100).toString(16).slice(1);
  return s;
}

function canonical(family: number, bytes: Uint8Array, len: number): string {
  return `${family}/${Buffer.from(bytes).toString("hex")}/${len}`;
}

function parsePrefixChecked(prefix: string): ReturnType<typeof parsePrefix> {
  try {
    return parsePrefix(prefix);
  } catch (e) {
    throw new EmbeddedConfigError("EMB_BAD_PREFIX", `not an IP prefix: '${prefix}'`, { cause: e });
  }
}
