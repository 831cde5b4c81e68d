/**
 * Fuzzer for the transport-plane parsers: transport header framing, Session.open (framing, index
 * lookup, AEAD, replay), the replay window, path cell framing, the path switch fed whole cells,
 * and EXTEND bodies. Inputs are random bytes or mutations of valid messages (bit flips, byte sets,
 * truncation, extension, boundary values).
 *
 * Passes when nothing throws (the data plane returns drop codes; only VeilnetError subclasses would
 * be tolerated and are counted), no mutated message is ever accepted, and the heap after a forced
 * GC is flat.
 *
 *   bun run src/anchor/fuzz-transport.ts --iterations 1000000 [--seed 1]
 */
import { parseArgs } from "node:util";
import { VeilnetError } from "../errors.ts";
import { chooseAead } from "./aead/choose.ts";
import { Identity } from "./identity.ts";
import { MsgType } from "./message-type.ts";
import { CellCmd, encodeCell, newCell, parseCell, SKIN_SIZE } from "./path/cell.ts";
import { makeSkin, openExtend, sealExtend } from "./path/hop-key.ts";
import { LINK_ROOM, PathSwitch } from "./path/switch.ts";
import { ReplayFilter } from "./replay.ts";
import { seededRng } from "./rng.ts";
import { Session } from "./session.ts";
import {
  newTransportHeader,
  parseTransportHeader,
  TRANSPORT_HEADER_SIZE,
  TRANSPORT_MIN_SIZE,
} from "./transport.ts";

export interface TransportFuzzReport {
  iterations: number;
  seed: number;
  /** Exceptions that were VeilnetError subclasses (allowed, counted). */
  typedErrors: number;
  /** Anything else thrown, or a mutated message accepted: must be empty. */
  failures: string[];
  accepted: number;
  heapStartMb: number;
  heapEndMb: number;
  ms: number;
}

class Prng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  u32(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

const BOUNDARY = [0, 1, 0x7f, 0x80, 0xfe, 0xff];

/** Returns a mutated copy that differs from `src` (in an ArrayBuffer-backed array with spare room). */
function mutate(r: Prng, src: Uint8Array): { buf: Uint8Array; len: number } {
  const buf = new Uint8Array(new ArrayBuffer(src.length + 64));
  buf.set(src);
  let len = src.length;
  const kind = r.below(6);
  if (kind === 0) {
    const at = r.below(len);
    buf[at]! ^= 1 << r.below(8);
  } else if (kind === 1) {
    for (let k = 1 + r.below(4); k > 0; k--) buf[r.below(len)] = BOUNDARY[r.below(BOUNDARY.length)]!;
  } else if (kind === 2) {
    len = r.below(len); // truncation
  } else if (kind === 3) {
    const extra = 1 + r.below(64);
    buf.set(r.bytes(extra), len);
    len += extra;
  } else if (kind === 4) {
    const at = r.below(len);
    const n = Math.min(len - at, 1 + r.below(16));
    buf.set(r.bytes(n), at);
  } else {
    buf[r.below(Math.min(len, 16))]! ^= 0xff; // header damage
  }
  if (len === src.length && buf.subarray(0, len).every((b, i) => b === src[i])) buf[0]! ^= 0x40;
  return { buf, len };
}

export function fuzzTransport(iterations: number, seed = 1): TransportFuzzReport {
  const r = new Prng(seed);
  const t0 = performance.now();
  const backend = chooseAead();
  const now = 1_000_000;
  const key1 = r.bytes(32);
  const key2 = r.bytes(32);
  const peer = new Uint8Array(32);
  const a = new Session(backend);
  const b = new Session(backend);
  a.install({
    localIndex: 11,
    remoteIndex: 22,
    sendKey: key1,
    recvKey: key2,
    isInitiator: true,
    peerNodeId: peer,
    establishedAt: now,
  });
  b.install({
    localIndex: 22,
    remoteIndex: 11,
    sendKey: key2,
    recvKey: key1,
    isInitiator: false,
    peerNodeId: peer,
    establishedAt: now,
  });
  // valid messages to mutate (sealed once; b accepts each original at most once)
  const originals: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) {
    const len = [0, 1, 20, 100, 1400][i % 5]!;
    const m = new Uint8Array(new ArrayBuffer(TRANSPORT_MIN_SIZE + len));
    m.set(r.bytes(len), TRANSPORT_HEADER_SIZE);
    const n = a.seal(m, 0, i % 2 ? MsgType.PathCell : MsgType.Transport, len, now);
    originals.push(m.subarray(0, n));
  }

  const identity = Identity.generate(seededRng("fuzz transport node"));
  const peerId = new Uint8Array(32).fill(0xee);
  const sw = new PathSwitch(
    identity,
    {
      sendCell: () => true,
      peerOf: (link) => (link >= 1 && link <= 4 ? peerId : null),
      linkTo: () => 2,
      localIsLow: (link) => link % 2 === 0,
    },
    { atOrigin: () => {}, atTerminal: () => {} },
  );
  const skin = makeSkin({ nodeId: identity.nodeId, ...identity.publicKeys });
  const cells: Uint8Array[] = [
    encodeCell(0x80000001, CellCmd.Create, skin.skin),
    encodeCell(0x80000001, CellCmd.Extend, sealExtend(skin.keys, 1, new Uint8Array(32 + SKIN_SIZE))),
    encodeCell(5, CellCmd.Created, new Uint8Array(16)),
    encodeCell(5, CellCmd.Extended, new Uint8Array(17)),
    encodeCell(5, CellCmd.Handshake, r.bytes(300)),
    encodeCell(5, CellCmd.Data, r.bytes(200)),
    encodeCell(5, CellCmd.Keepalive, new Uint8Array(9)),
    encodeCell(5, CellCmd.Destroy, new Uint8Array(1)),
  ];
  const replay = new ReplayFilter();
  const hdr = newTransportHeader();
  const cell = newCell();
  const failures: string[] = [];
  let typedErrors = 0;
  let accepted = 0;
  let heapStart = 0;
  let clock = now;

  for (let i = 0; i < iterations; i++) {
    if (i === Math.floor(iterations / 10)) heapStart = heapMb();
    try {
      const target = r.below(100);
      if (target < 30) {
        const src = originals[r.below(originals.length)]!;
        const { buf, len } = mutate(r, src);
        const n = b.open(buf, 0, len, now + 1);
        if (n >= 0) {
          accepted++;
          failures.push(`transport: mutated message accepted (iteration ${i})`);
        }
      } else if (target < 40) {
        const len = r.below(80);
        const buf = r.bytes(len);
        parseTransportHeader(buf, r.below(3), len, hdr);
        if (b.open(buf, 0, len, now + 1) >= 0) failures.push("transport: random bytes accepted");
      } else if (target < 50) {
        const c = r.below(4);
        const counter =
          c === 0
            ? r.u32()
            : c === 1
              ? r.u32() * 2 ** 21 + r.u32()
              : c === 2
                ? -r.u32()
                : [Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 2 ** 64][r.below(4)]!;
        replay.validate(counter, 2 ** 53);
      } else if (target < 65) {
        const src = cells[r.below(cells.length)]!;
        const { buf, len } = r.below(4) === 0 ? { buf: r.bytes(r.below(1500)), len: -1 } : mutate(r, src);
        const l = len < 0 ? buf.length : len;
        parseCell(buf, 0, l, cell);
      } else if (target < 97) {
        // whole cells into the switch, in place with link room around them
        let src = cells[2 + r.below(cells.length - 2)]!;
        if (r.below(500) === 0) src = cells[r.below(2)]!; // CREATE/EXTEND: ML-KEM work, rarer
        const { buf: m, len } = r.below(3) === 0 ? { buf: src, len: src.length } : mutate(r, src);
        const buf = new Uint8Array(new ArrayBuffer(LINK_ROOM + len + LINK_ROOM + 64));
        buf.set(m.subarray(0, len), LINK_ROOM);
        sw.onCell(1 + r.below(5), buf, LINK_ROOM, len, clock);
      } else {
        const body = r.below(2) === 0 ? r.bytes(r.below(1300)) : mutate(r, cells[1]!.subarray(6)).buf;
        openExtend(skin.keys, body);
      }
    } catch (e) {
      if (e instanceof VeilnetError) typedErrors++;
      else if (failures.length < 20) failures.push(`iteration ${i}: ${(e as Error)?.stack ?? String(e)}`);
    }
    if (i % 20_000 === 19_999) {
      clock += 120_000; // let the switch expire what the fuzzer created
      sw.poll(clock);
    }
  }
  sw.poll(clock + 10 * 60_000 * 2);
  const heapEnd = heapMb();
  a.clear();
  b.clear();
  return {
    iterations,
    seed,
    typedErrors,
    failures,
    accepted,
    heapStartMb: round(heapStart),
    heapEndMb: round(heapEnd),
    ms: Math.round(performance.now() - t0),
  };
}

function heapMb(): number {
  Bun.gc(true);
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { iterations: { type: "string", default: "1000000" }, seed: { type: "string", default: "1" } },
  });
  const rep = fuzzTransport(Number(values.iterations), Number(values.seed));
  for (const f of rep.failures) console.error(f);
  console.log(
    `iterations=${rep.iterations} seed=${rep.seed} failures=${rep.failures.length} typed_errors=${rep.typedErrors} accepted_mutations=${rep.accepted} heap_start_mb=${rep.heapStartMb} heap_end_mb=${rep.heapEndMb} ms=${rep.ms}`,
  );
  process.exit(rep.failures.length === 0 ? 0 : 1);
}
