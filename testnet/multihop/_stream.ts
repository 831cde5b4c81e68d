/**
 * A byte-exact TCP transfer between two hosts of a multi-hop net: a sink that counts and hashes
 * what it reads until the sender closes, and a source that writes a fixed amount of random bytes
 * and reports their hash. Unlike iperf3's sent/received totals (the receiver stops counting at the
 * end of the test, whatever is still in flight), equal count and hash mean every byte arrived, in
 * order, once.
 */
import type { MultihopNet } from "./_multihop.ts";

const SINK = `
const [host, port] = process.argv.slice(-2);
const h = new Bun.CryptoHasher("sha256");
let n = 0;
let firstAt = 0;
let lastAt = 0;
const srv = Bun.listen({
  hostname: host, port: Number(port),
  socket: {
    data(_s, d) { n += d.length; h.update(d); lastAt = Date.now(); firstAt ||= lastAt; },
    close() { console.log(JSON.stringify({ bytes: n, sha256: h.digest("hex"), firstAt, lastAt })); srv.stop(true); },
  },
});
console.log("listening");
`;

const SOURCE = `
const [host, port, size, rate] = process.argv.slice(-4);
const total = Number(size);
// bytes per second, 0 for as fast as TCP goes: a paced stream is still in flight when a test cuts a link
const paceMs = Number(rate) > 0 ? (65536 / Number(rate)) * 1000 : 0;
const buf = new Uint8Array(total);
crypto.getRandomValues(buf.subarray(0, Math.min(total, 65536)));
for (let o = 65536; o < total; o += 65536) buf.set(buf.subarray(0, Math.min(65536, total - o)), o);
for (let o = 0; o < total; o += 4096) buf[o] = (o >> 12) & 0xff;
const sha = new Bun.CryptoHasher("sha256").update(buf).digest("hex");
let off = 0;
const t0 = performance.now();
await new Promise((resolve, reject) => {
  Bun.connect({
    hostname: host, port: Number(port),
    socket: {
      open(s) { pump(s); },
      drain(s) { pump(s); },
      close() { resolve(); },
      error(_s, e) { reject(e); },
      connectError(_s, e) { reject(e); },
    },
  }).catch(reject);
  let nextAt = performance.now();
  let ended = false;
  function pump(s) {
    while (off < total) {
      if (paceMs > 0 && performance.now() < nextAt) {
        setTimeout(() => pump(s), nextAt - performance.now());
        return;
      }
      const w = s.write(buf.subarray(off, Math.min(total, off + 65536)));
      off += w;
      nextAt += (paceMs * w) / 65536;
      if (w === 0) return;
    }
    if (!ended) s.end(); // a drain and a pacing timer may both get here
    ended = true;
  }
});
console.log(JSON.stringify({ bytes: total, sha256: sha, ms: Math.round(performance.now() - t0) }));
`;

export interface StreamResult {
  readonly bytes: number;
  readonly sha256: string;
  readonly ms?: number;
  /** Wall-clock ms of the sink's first and last data (the sink's report only). */
  readonly firstAt?: number;
  readonly lastAt?: number;
}

/** Starts the sink on `to`; resolves once it listens. */
export async function startSink(net: MultihopNet, to: string, port: number) {
  const p = net.mesh.spawn(to, [process.execPath, "-e", SINK, net.ips.get(to)!, String(port)]);
  const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("listening\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`sink on ${to} exited before listening`);
    text += new TextDecoder().decode(value);
  }
  const result = (async (): Promise<StreamResult | null> => {
    for (;;) {
      const { value, done } = await reader.read();
      if (value) text += new TextDecoder().decode(value);
      const line = text.split("\n").find((l) => l.startsWith("{"));
      if (line) return JSON.parse(line) as StreamResult;
      if (done) return null;
    }
  })();
  return { proc: p, result };
}

/** Sends `size` random bytes from `from` to the sink; resolves with what was sent, or null. */
export async function sendStream(
  net: MultihopNet,
  from: string,
  to: string,
  port: number,
  size: number,
  timeoutMs = 90_000,
  bytesPerSecond = 0,
) {
  const r = await net.mesh.exec(
    from,
    [process.execPath, "-e", SOURCE, net.ips.get(to)!, String(port), String(size), String(bytesPerSecond)],
    { timeoutMs },
  );
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  return { code: r.code, stderr: r.stderr, sent: line ? (JSON.parse(line) as StreamResult) : null };
}
