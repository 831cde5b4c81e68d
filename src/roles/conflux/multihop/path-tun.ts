/**
 * The path TUN: a second interface (`<tun>p`) for destinations reached over multi-hop paths. The
 * native data plane serves `veil0` and its /10; a host route (/32, /128) for each destination
 * without a direct session points here instead (more specific, so it wins), with the node's
 * overlay address as preferred source. Packets are read in JavaScript and sent over the chosen
 * path; packets arriving over paths are written back here. Path traffic is a fallback for
 * destinations that cannot be reached directly, so this plane favours simplicity over speed.
 */
import { writeSync } from "node:fs";
import { closeTun, configureInterface, openTun, type Tun } from "../../../ffi/index.ts";
import { addHostRoute, removeHostRoute } from "./kernel-route.ts";

/** Suffix of the path TUN's name after the data-plane TUN's name. */
export const PATH_TUN_SUFFIX = "p";

export interface PathTunOptions {
  readonly name: string;
  readonly mtu: number;
  /** The node's overlay addresses: preferred source of the host routes. */
  readonly srcV4: string;
  readonly srcV6: string;
  readonly onPacket: (packet: Uint8Array) => void;
}

export class PathTun {
  readonly tun: Tun;
  readonly counters = { rxPackets: 0, txPackets: 0, txErrors: 0, malformed: 0 };
  readonly #routes = new Set<string>();
  readonly #o: PathTunOptions;
  #stopped = false;

  private constructor(tun: Tun, o: PathTunOptions) {
    this.tun = tun;
    this.#o = o;
  }

  static open(o: PathTunOptions): PathTun {
    const tun = openTun({ name: o.name, nonBlocking: true });
    try {
      configureInterface(tun.name, { mtu: o.mtu });
    } catch (e) {
      closeTun(tun);
      throw e;
    }
    const t = new PathTun(tun, o);
    void t.#readLoop();
    return t;
  }

  get name(): string {
    return this.tun.name;
  }

  /** Routes `addr` (IPv4 or IPv6 host address) to this TUN. Idempotent. */
  route(addr: string): void {
    if (this.#routes.has(addr)) return;
    addHostRoute(addr, this.tun.name, addr.includes(":") ? this.#o.srcV6 : this.#o.srcV4);
    this.#routes.add(addr);
  }

  unroute(addr: string): void {
    if (!this.#routes.delete(addr)) return;
    removeHostRoute(addr, this.tun.name, addr.includes(":") ? this.#o.srcV6 : this.#o.srcV4);
  }

  routes(): string[] {
    return [...this.#routes];
  }

  /** Hands one IP packet to the kernel. Never throws. */
  write(packet: Uint8Array): void {
    try {
      writeSync(this.tun.fd, packet);
      this.counters.txPackets++;
    } catch {
      this.counters.txErrors++;
    }
  }

  close(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const r of [...this.#routes]) this.unroute(r);
    closeTun(this.tun);
  }

  async #readLoop(): Promise<void> {
    const reader = Bun.file(this.tun.fd).stream().getReader();
    try {
      while (!this.#stopped) {
        const { value, done } = await reader.read();
        if (done || this.#stopped) return;
        // One read may carry several packets: split by the IP header's length.
        let off = 0;
        while (off < value.length) {
          const len = ipLength(value, off);
          if (len <= 0 || off + len > value.length) {
            this.counters.malformed++;
            break;
          }
          this.counters.rxPackets++;
          this.#o.onPacket(value.subarray(off, off + len));
          off += len;
        }
      }
    } catch {
      // the fd was closed under the reader: stopping
    }
  }
}

/** Total length of the IP packet at `off`, or 0 when the header is not IPv4/IPv6. */
export function ipLength(b: Uint8Array, off: number): number {
  const ver = b[off]! >> 4;
  if (ver === 4 && b.length - off >= 20) return (b[off + 2]! << 8) | b[off + 3]!;
  if (ver === 6 && b.length - off >= 40) return 40 + ((b[off + 4]! << 8) | b[off + 5]!);
  return 0;
}
