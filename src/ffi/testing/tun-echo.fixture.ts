/**
 * Runs inside a fresh network namespace (spawned by tun.test.ts): creates a TUN, configures it
 * through rtnetlink, sends hand-built ICMP/ICMPv6 echo requests to the TUN's own addresses and
 * reads the kernel's replies back. Prints one JSON result line.
 */

import { parseIPv4, parseIPv6 } from "../inet.ts";
import { addr, ffiBuffer, POLLIN, sys } from "../libc.ts";
import { addRoute, configureInterface } from "../netif.ts";
import { openTun } from "../tun.ts";
import { icmpv4EchoRequest, icmpv6EchoRequest, parseEcho } from "./ip-packets.ts";
import { sh } from "./netns.ts";

const [name, v4Cidr, v6Cidr, peer4, peer6, route4, route6] = process.argv.slice(2) as string[];
const tun = openTun({ name: name!, nonBlocking: true });
configureInterface(tun.name, { mtu: 1400, addresses: [v4Cidr!, v6Cidr!], up: true });

const buf = ffiBuffer(2048);
const pfd = ffiBuffer(8);
function readPacket(timeoutMs: number): Uint8Array | null {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = sys.read(tun.fd, addr(buf), buf.length);
    if (n > 0) return buf.slice(0, Number(n));
    const left = deadline - Date.now();
    if (left <= 0) return null;
    const v = new DataView(pfd.buffer);
    v.setInt32(0, tun.fd, true);
    v.setInt16(4, POLLIN, true);
    sys.poll(addr(pfd), 1, Math.min(left, 200));
  }
}

/** Writes `pkt` and waits for an echo reply of `type`; retries like ping does (IPv6 may still be
 * settling right after link up). */
function echo(pkt: Uint8Array, type: number): ReturnType<typeof parseEcho> {
  const out = ffiBuffer(pkt.length);
  out.set(pkt);
  for (let attempt = 0; attempt < 5; attempt++) {
    const w = sys.write(tun.fd, addr(out), out.length);
    if (Number(w) !== pkt.length) throw new Error(`write returned ${w}`);
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline) {
      const p = readPacket(deadline - Date.now());
      if (!p) break;
      const e = parseEcho(p);
      if (e && e.type === type) return e;
    }
  }
  return null;
}

const payload = new TextEncoder().encode("veilnet tun echo test payload 0123456789");
const own4 = parseIPv4(v4Cidr!.split("/")[0]!)!;
const own6 = parseIPv6(v6Cidr!.split("/")[0]!)!;
const r4 = echo(icmpv4EchoRequest({ src: parseIPv4(peer4!)!, dst: own4, id: 0x1234, seq: 7, payload }), 0);
const r6 = echo(icmpv6EchoRequest({ src: parseIPv6(peer6!)!, dst: own6, id: 0x4321, seq: 9, payload }), 129);
addRoute({ dst: route4!, dev: tun.name });
addRoute({ dst: route6!, dev: tun.name, metric: 77 });
const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString("hex") : null);
const view = (e: typeof r4) =>
  e && { ...e, src: hex(e.src), dst: hex(e.dst), payload: new TextDecoder().decode(e.payload) };
console.log(
  JSON.stringify({
    name: tun.name,
    link: sh(["ip", "-o", "link", "show", "dev", tun.name]),
    addrs: sh(["ip", "-o", "addr", "show", "dev", tun.name]),
    routes4: sh(["ip", "-4", "route", "show", "dev", tun.name]),
    routes6: sh(["ip", "-6", "route", "show", "dev", tun.name]),
    v4: view(r4),
    v6: view(r6),
  }),
);
