/**
 * Byte-exact TCP transfer check across the data plane (tests only).
 *   serve HOST PORT        → accepts one connection, prints "sha256 <hex> <bytes>" when it closes
 *   send HOST PORT MBYTES  → sends deterministic pseudo-random data, prints "sha256 <hex> <bytes>"
 */
import { createHash } from "node:crypto";
import { createConnection, createServer } from "node:net";

const [mode, host, portText, mbText] = process.argv.slice(2);
const port = Number(portText);

if (mode === "serve") {
  const server = createServer((sock) => {
    const h = createHash("sha256");
    let n = 0;
    sock.on("data", (d) => {
      h.update(d);
      n += d.length;
    });
    sock.on("end", () => {
      console.log(`sha256 ${h.digest("hex")} ${n}`);
      sock.end();
      server.close();
    });
  });
  server.listen(port, host, () => console.log("listening"));
} else if (mode === "send") {
  const total = Number(mbText) * 1024 * 1024;
  const chunk = Buffer.alloc(256 * 1024);
  let x = 0x9e3779b9;
  const h = createHash("sha256");
  const sock = createConnection({ host: host!, port });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      for (let i = 0; i < chunk.length; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        chunk.writeInt32LE(x | 0, i);
      }
      const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
      h.update(piece);
      sent += piece.length;
      if (!sock.write(Buffer.from(piece))) return void sock.once("drain", pump);
    }
    sock.end(() => console.log(`sha256 ${h.digest("hex")} ${sent}`));
  };
  sock.on("connect", pump);
  sock.on("error", (e) => {
    console.error(e.message);
    process.exit(1);
  });
}
