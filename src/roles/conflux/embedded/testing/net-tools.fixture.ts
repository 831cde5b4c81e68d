/**
 * Test helpers run inside testnet hosts (any user):
 *   http PORT TEXT        serves TEXT on every path
 *   sink PORT             per connection: reads to EOF, answers "<bytes> <sha256 hex>\n", closes
 *   send HOST PORT BYTES  sends BYTES deterministic pseudo-random bytes, half-closes, prints a JSON
 *                         line {bytes, sha256, answer, seconds} (answer = the sink's reply)
 *   echo PORT             echoes every connection (latency bench)
 *   rtt HOST PORT N       N ping-pongs of 64 bytes over one connection; prints {p50Ms, p90Ms}
 */
import { createHash } from "node:crypto";
import { connect, createServer } from "node:net";

const [mode, ...rest] = process.argv.slice(2);

function block(i: number): Uint8Array {
  const b = new Uint8Array(65536);
  let x = (i * 2654435761 + 1) >>> 0;
  for (let k = 0; k < b.length; k += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[k] = x & 0xff;
    b[k + 1] = (x >>> 8) & 0xff;
    b[k + 2] = (x >>> 16) & 0xff;
    b[k + 3] = x >>> 24;
  }
  return b;
}

if (mode === "http") {
  const [port, text] = rest;
  Bun.serve({ port: Number(port), hostname: "0.0.0.0", fetch: () => new Response(text) });
  console.log("ready");
} else if (mode === "sink") {
  createServer((s) => {
    const h = createHash("sha256");
    let n = 0;
    s.on("data", (d) => {
      n += d.length;
      h.update(d);
    });
    s.on("end", () => s.end(`${n} ${h.digest("hex")}\n`));
    s.on("error", () => {});
  }).listen(Number(rest[0]), "0.0.0.0", () => console.log("ready"));
} else if (mode === "echo") {
  createServer((s) => {
    s.pipe(s);
    s.on("error", () => {});
  }).listen(Number(rest[0]), "0.0.0.0", () => console.log("ready"));
} else if (mode === "send") {
  const [host, port, bytes] = rest;
  const total = Number(bytes);
  const h = createHash("sha256");
  const t0 = performance.now();
  const s = connect(Number(port), host!);
  let answer = "";
  s.on("data", (d) => {
    answer += d.toString();
  });
  s.on("connect", () => {
    let sent = 0;
    let i = 0;
    const pump = () => {
      while (sent < total) {
        const b = block(i++).subarray(0, Math.min(65536, total - sent));
        h.update(b);
        sent += b.length;
        if (!s.write(b)) {
          s.once("drain", pump);
          return;
        }
      }
      s.end();
    };
    pump();
  });
  s.on("close", () => {
    const seconds = (performance.now() - t0) / 1000;
    console.log(JSON.stringify({ bytes: total, sha256: h.digest("hex"), answer: answer.trim(), seconds }));
  });
  s.on("error", (e) => console.log(JSON.stringify({ error: String(e) })));
} else if (mode === "rtt") {
  const [host, port, n] = rest;
  const s = connect(Number(port), host!);
  s.setNoDelay(true);
  const times: number[] = [];
  let t = 0;
  let got = 0;
  const msg = new Uint8Array(64);
  s.on("connect", () => {
    t = performance.now();
    s.write(msg);
  });
  s.on("data", (d) => {
    got += d.length;
    if (got < 64) return;
    got -= 64;
    times.push(performance.now() - t);
    if (times.length === Number(n)) {
      times.sort((a, b) => a - b);
      const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
      console.log(JSON.stringify({ p50Ms: q(0.5), p90Ms: q(0.9), n: times.length }));
      s.destroy();
      return;
    }
    t = performance.now();
    s.write(msg);
  });
  s.on("error", (e) => console.log(JSON.stringify({ error: String(e) })));
} else {
  console.error("usage: net-tools.fixture.ts http|sink|send|echo|rtt ...");
  process.exit(2);
}
