/**
 * Native relay capacity, inside a fresh network namespace: upstream A blasts pre-sealed PathCells
 * (DATA, `CELL_BYTES` each) at one data plane whose label table relays them to B; B only counts.
 * Reports relayed cells per second and Mbit/s of cell bytes over the busy interval, and drops by
 * reason (the kernel drops what the RX loop cannot take as socket-buffer overflow: relayed < sent).
 * Usage: relay-bench.fixture.ts [cells] [cellBytes]. Prints one JSON line.
 */
import { readdirSync, readFileSync } from "node:fs";
import { closeTun, openTun } from "../../../../ffi/tun.ts";
import { cellKey } from "../cell-keys.ts";
import { Dataplane } from "../dataplane.ts";
import { referenceSeal } from "../seal-reference.ts";

const CELLS = Number(process.argv[2] ?? 100_000);
const CELL_BYTES = Number(process.argv[3] ?? 1400);
const key = (b: number) => new Uint8Array(32).fill(b);
const A = { slot: 0, send: key(0xa1), recv: key(0xa2), localIndex: 0x0a0a0001, peerIndex: 0x1a1a0001 };
const B = { slot: 1, send: key(0xb1), recv: key(0xb2), localIndex: 0x0b0b0001, peerIndex: 0x1b1b0001 };

const tun = openTun({ name: "vrb0" });
const dp = await Dataplane.start({ tunFd: tun.fd, udpPort: 0, bindAddress: "127.0.0.1" });
dp.onControl(() => {});
let atB = 0;
const sb = await Bun.udpSocket({
  hostname: "127.0.0.1",
  socket: { data: () => void atB++, error: () => {} },
});
const sa = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: () => {}, error: () => {} } });
for (const [p, port] of [
  [A, sa.port],
  [B, sb.port],
] as const) {
  dp.setPeer(p.slot, {
    endpoint: { ip: "127.0.0.1", port },
    sendKey: p.send,
    sendReceiverIndex: p.peerIndex,
    recvKey: p.recv,
    localIndex: p.localIndex,
  });
}
dp.labels.setStrict(true);
dp.labels.set(A.slot, 0x1234, B.slot, 0x80005678);

const ck = cellKey(A.recv);
const body = new Uint8Array(CELL_BYTES);
body[4] = 6; // DATA
new DataView(body.buffer).setUint32(0, 0x1234, true);
const sealed: Uint8Array[] = [];
for (let i = 0; i < CELLS; i++) sealed.push(referenceSeal(ck, A.localIndex, BigInt(i), body, 5));

/** CPU ms (user + system) of every thread of this process, by thread name and id. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      out.set(`${name}:${tid}`, ((Number(f[11]) + Number(f[12])) * 1000) / 100); // clock ticks at 100 Hz
    } catch {}
  }
  return out;
}

const cpu0 = threadCpu();
const before = dp.counters();
const t0 = performance.now();
const CHUNK = 256;
for (let i = 0; i < CELLS; i += CHUNK) {
  const batch: (Uint8Array | number | string)[] = [];
  for (const d of sealed.slice(i, i + CHUNK)) batch.push(d, dp.port, "127.0.0.1");
  sa.sendMany(batch);
  if ((i / CHUNK) % 8 === 7) await Bun.sleep(0); // let the loops breathe: measure the relay, not the queue
}
const sentMs = performance.now() - t0;
let last = -1;
for (;;) {
  await Bun.sleep(100);
  const n = dp.counters().rxRelayed;
  if (n === last) break;
  last = n;
}
const ms = performance.now() - t0 - 100;
const cpu1 = threadCpu();
const busiest = [...cpu1]
  .map(([k, v]) => [k, v - (cpu0.get(k) ?? 0)] as const)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 4);
const after = dp.counters();
const d = (k: keyof typeof after) => after[k] - before[k];
const relayed = d("rxRelayed");
await dp.stop();
sa.close();
sb.close();
closeTun(tun);
console.log(
  JSON.stringify({
    cells: CELLS,
    cellBytes: CELL_BYTES,
    sentMs: Math.round(sentMs),
    ms: Math.round(ms),
    relayed,
    atB,
    relayedPerSec: Math.round(relayed / (ms / 1000)),
    mbps: Math.round((relayed * CELL_BYTES * 8) / (ms / 1000) / 1e6),
    threadsCpuMs: Object.fromEntries(busiest),
    batches: d("rxRelayBatches"),
    rxBatches: d("rxBatches"),
    drops: {
      replay: d("dropRxReplay"),
      badTag: d("dropRxBadTag"),
      unknownLabel: d("dropRxCellUnknownLabel"),
      sendError: d("dropRxRelaySendError"),
    },
  }),
);
process.exit(0);
