/**
 * The delay forwarder of one link end. Run inside the end's namespace:
 *
 *   bun testnet/delay/forwarder.ts --tap <name> --delay-ms <ms>
 *
 * It creates TAP device <name> and prints "ready". The harness then steers the end's egress
 * frames into the TAP with nftables (netdev egress hook: `fwd to "<tap>"`); this process reads
 * each frame, holds it for the delay and writes it back into the TAP, where a netdev ingress hook
 * marks it and forwards it out of the real interface (the mark lets it past the egress hook the
 * second time). The kernel has no netem, so this is the link's propagation delay. The TAP goes
 * away with this process; SIGTERM ends it cleanly.
 */
import { read, writeFileSync, writeSync } from "node:fs";
import { DelayLine } from "./delay-line.ts";
import { closeFd, openTap } from "./tap.ts";

const MAX_FRAME = 65_536;

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
const fd = openTap(tap);
try {
  // No IPv6 on the TAP: the namespace's own stack must never send anything through it.
  writeFileSync(`/proc/sys/net/ipv6/conf/${tap}/disable_ipv6`, "1");
} catch {
  // IPv6 may be disabled in this namespace already.
}

let writeErrors = 0;
const line = new DelayLine({
  delayMs,
  send: (frame) => {
    try {
      writeSync(fd, frame);
    } catch {
      writeErrors++;
    }
  },
});

let closing = false;
function shutdown(): void {
  if (closing) return;
  closing = true;
  line.close();
  closeFd(fd);
  console.log(`exit sent=${line.sent} dropped=${line.dropped} write_errors=${writeErrors}`);
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

const buf = Buffer.alloc(MAX_FRAME);
function next(): void {
  read(fd, buf, 0, MAX_FRAME, null, (err, n) => {
    if (closing) return;
    if (err) {
      console.error(`read ${tap}: ${err.message}`);
      shutdown();
      return;
    }
    if (n > 0) line.push(Uint8Array.prototype.slice.call(buf, 0, n));
    next();
  });
}
next();
console.log(`ready tap=${tap} pid=${process.pid} delay_ms=${delayMs}`);
