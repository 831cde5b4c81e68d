/**
 * Minimal wireguard-go configuration without `wg`: X25519 key generation and one UAPI `set`
 * over the daemon's unix socket (https://www.wireguard.com/xplatform/).
 *
 *   bun wg-uapi.ts keygen               → "<private hex> <public hex>"
 *   bun wg-uapi.ts set SOCKET < lines   → sends "set=1\n<lines>\n", exits 0 on "errno=0"
 */
import { generateKeyPairSync } from "node:crypto";

const [cmd, socketPath] = process.argv.slice(2);
if (cmd === "keygen") {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const hex = (b64url: string) => Buffer.from(b64url, "base64url").toString("hex");
  const d = privateKey.export({ format: "jwk" }).d!;
  const x = publicKey.export({ format: "jwk" }).x!;
  console.log(`${hex(d)} ${hex(x)}`);
  process.exit(0);
}
if (cmd !== "set" || !socketPath) {
  console.error("usage: wg-uapi.ts keygen | set SOCKET < config");
  process.exit(2);
}
const body = (await Bun.stdin.text()).trim();
let reply = "";
const done = Promise.withResolvers<void>();
await Bun.connect({
  unix: socketPath,
  socket: {
    open(s) {
      s.write(`set=1\n${body}\n\n`);
    },
    data(_s, d) {
      reply += d.toString();
      if (reply.includes("\n\n")) done.resolve();
    },
    close() {
      done.resolve();
    },
    error() {
      done.resolve();
    },
  },
});
await Promise.race([done.promise, Bun.sleep(5000)]);
if (!reply.includes("errno=0")) {
  console.error(`wireguard-go UAPI refused: ${reply.trim() || "(no reply)"}`);
  process.exit(1);
}
process.exit(0);
