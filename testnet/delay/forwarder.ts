/**
 * The delay forwarder of one link end. Run inside the end's namespace:
 *
 *   bun testnet/delay/forwarder.ts --tap <name> --delay-ms <ms>
 *
 * It creates TAP device <name> and prints "ready". The harness then steers the end's egress
 * frames into the TAP with nftables (netdev egress hook: `fwd to "<tap>"`); this process reads
 * each frame, holds it for the delay and writes it back into the TAP, where a netdev ingress hook
 * marks it and forwards it out of the real interface (the mark lets it past the egress hook the
 * second time). The kernel has no netem, so this is the link's propagation delay.
 *
 * The packet loop is C (delay-loop.c, compiled by bun:ffi's TinyCC) and blocks this process's
 * only thread: signals keep their default action, so SIGTERM ends the process, and the TAP
 * disappears with its descriptor.
 */
import { cc } from "bun:ffi";
import { writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { openTap } from "./tap.ts";

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) {
    console.error(`usage: forwarder.ts --tap NAME --delay-ms MS (missing ${name})`);
    process.exit(2);
  }
  return v;
}

const tap = arg("--tap");
const delayMs = Number(arg("--delay-ms"));
if (!(delayMs >= 0 && delayMs <= 60_000)) {
  console.error(`bad --delay-ms ${delayMs}`);
  process.exit(2);
}

const loop = cc({
  source: join(import.meta.dir, "delay-loop.c"),
  symbols: { delay_loop: { args: ["int", "double", "ptr"], returns: "int" } },
});

const fd = openTap(tap);
try {
  // No IPv6 on the TAP: the namespace's own stack must never send anything through it.
  writeFileSync(`/proc/sys/net/ipv6/conf/${tap}/disable_ipv6`, "1");
} catch {
  // IPv6 may be disabled in this namespace already.
}
const stats = new Float64Array(3);
writeSync(1, `ready tap=${tap} pid=${process.pid} delay_ms=${delayMs}\n`);
const rc = loop.symbols.delay_loop(fd, delayMs, stats);
writeSync(2, `delay loop ended: ${rc} sent=${stats[0]} dropped_full=${stats[1]} dropped_large=${stats[2]}\n`);
process.exit(1);
