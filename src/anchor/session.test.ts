import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { chooseAead } from "./aead/choose.ts";
import { MsgType } from "./message-type.ts";
import {
  Action,
  KEEPALIVE_TIMEOUT_MS,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_TIME_MS,
  REKEY_ATTEMPT_TIME_MS,
  REKEY_TIMEOUT_MS,
  Session,
  ZERO_KEYS_AFTER_MS,
} from "./session.ts";
import type { SessionKeys } from "./session-keys.ts";
import { TRANSPORT_HEADER_SIZE, TRANSPORT_MIN_SIZE } from "./transport.ts";
import { Drop } from "./transport-errors.ts";

const backend = chooseAead();

/** Test-only key source standing in for the handshake: random keys and indexes for both ends. */
function fakeHandshake(now: number): [SessionKeys, SessionKeys] {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const i = randomBytes(8);
  const a = i.readUInt32LE(0);
  const b = i.readUInt32LE(4);
  const peer = new Uint8Array(32);
  return [
    {
      localIndex: a,
      remoteIndex: b,
      sendKey: k1,
      recvKey: k2,
      isInitiator: true,
      peerNodeId: peer,
      establishedAt: now,
    },
    {
      localIndex: b,
      remoteIndex: a,
      sendKey: k2,
      recvKey: k1,
      isInitiator: false,
      peerNodeId: peer,
      establishedAt: now,
    },
  ];
}

function packet(seq: number, len = 64): Uint8Array {
  const buf = new Uint8Array(new ArrayBuffer(TRANSPORT_MIN_SIZE + len));
  new DataView(buf.buffer).setUint32(TRANSPORT_HEADER_SIZE, seq, true);
  return buf;
}

describe("session", () => {
  test("responder keys wait as `next` until the initiator uses them; then both directions flow", () => {
    const a = new Session(backend);
    const b = new Session(backend);
    const [ka, kb] = fakeHandshake(0);
    a.install(ka);
    b.install(kb);
    expect(b.current).toBeNull();
    expect(b.next).not.toBeNull();
    expect(a.poll(0) & Action.Keepalive).toBeTruthy(); // initiator owes a confirmation
    const p = packet(0, 0);
    const n = a.seal(p, 0, MsgType.Transport, 0, 1);
    expect(b.seal(packet(1), 0, MsgType.Transport, 64, 1)).toBe(-Drop.NoKeys);
    expect(b.open(p, 0, n, 2)).toBe(0);
    expect(b.current?.localIndex).toBe(kb.localIndex);
    expect(b.next).toBeNull();
    const q = packet(7);
    const m = b.seal(q, 0, MsgType.PathCell, 64, 3);
    expect(a.open(q, 0, m, 4)).toBe(64);
    expect(a.rx.type).toBe(MsgType.PathCell);
    expect(new DataView(q.buffer).getUint32(TRANSPORT_HEADER_SIZE, true)).toBe(7);
  });

  test("replayed and beyond-window packets are dropped, in-window reordering accepted", () => {
    const a = new Session(backend);
    const b = new Session(backend);
    const [ka, kb] = fakeHandshake(0);
    a.install(ka);
    b.install(kb);
    const msgs: Uint8Array[] = [];
    for (let i = 0; i < 9000; i++) {
      const p = packet(i, 8);
      a.seal(p, 0, MsgType.Transport, 8, 1);
      msgs.push(p);
    }
    const copy = (i: number) => Uint8Array.from(msgs[i]!);
    expect(b.open(copy(8999), 0, 40, 2)).toBe(8);
    for (const i of [8998, 8000, 5000, 839]) expect(b.open(copy(i), 0, 40, 2)).toBe(8); // reordered, in window
    expect(b.open(copy(8000), 0, 40, 2)).toBe(-Drop.Replay); // duplicate
    expect(b.open(copy(838), 0, 40, 2)).toBe(-Drop.Replay); // 8161 behind: outside the window
    expect(b.open(copy(0), 0, 40, 2)).toBe(-Drop.Replay);
    expect(b.drops[Drop.Replay]).toBe(3);
    const forged = copy(8997);
    forged[20]! ^= 1;
    expect(b.open(forged, 0, 40, 2)).toBe(-Drop.BadTag);
    expect(b.open(copy(8997), 0, 40, 2)).toBe(8); // a forgery did not burn the counter
    const unknown = copy(8996);
    unknown[4]! ^= 1;
    expect(b.open(unknown, 0, 40, 2)).toBe(-Drop.UnknownReceiver);
  });

  test("keys expire after REJECT_AFTER_TIME and are wiped after 3x; rekey is asked for before that", () => {
    const a = new Session(backend);
    const b = new Session(backend);
    const [ka, kb] = fakeHandshake(1000);
    a.install(ka);
    b.install(kb);
    const p = packet(0, 0);
    b.open(p, 0, a.seal(p, 0, MsgType.Transport, 0, 1000), 1000);
    expect(a.poll(1000 + REKEY_AFTER_TIME_MS - 1) & Action.Rekey).toBe(0);
    expect(a.poll(1000 + REKEY_AFTER_TIME_MS) & Action.Rekey).toBeTruthy();
    expect(b.poll(1000 + REKEY_AFTER_TIME_MS) & Action.Rekey).toBe(0); // the responder leaves it to the initiator
    a.rekeyStarted(1000 + REKEY_AFTER_TIME_MS);
    expect(a.poll(1000 + REKEY_AFTER_TIME_MS + 1) & Action.Rekey).toBe(0); // in flight
    expect(a.poll(1000 + REKEY_AFTER_TIME_MS + REKEY_TIMEOUT_MS) & Action.Rekey).toBeTruthy(); // retry
    const late = 1000 + REJECT_AFTER_TIME_MS;
    const q = packet(1, 0);
    expect(a.seal(q, 0, MsgType.Transport, 0, late)).toBe(-Drop.Expired);
    const r = packet(2, 0);
    const n = a.seal(r, 0, MsgType.Transport, 0, late - 1);
    expect(b.open(r, 0, n, late)).toBe(-Drop.Expired);
    expect(a.poll(late) & Action.Expired).toBeTruthy();
    expect(a.poll(1000 + REKEY_AFTER_TIME_MS + REKEY_ATTEMPT_TIME_MS) & Action.GaveUp).toBeTruthy();
    expect(a.poll(1000 + ZERO_KEYS_AFTER_MS) & Action.Zeroed).toBeTruthy();
    expect(a.current).toBeNull();
    expect(a.previous).toBeNull();
  });

  test("passive keepalive after receiving data and sending nothing; deadlines are reported", () => {
    const a = new Session(backend);
    const b = new Session(backend);
    const [ka, kb] = fakeHandshake(0);
    a.install(ka);
    b.install(kb);
    const p = packet(0);
    b.open(p, 0, a.seal(p, 0, MsgType.Transport, 64, 10), 10);
    expect(b.poll(11) & Action.Keepalive).toBe(0);
    expect(b.nextDeadline(11)).toBe(10 + KEEPALIVE_TIMEOUT_MS);
    expect(b.poll(10 + KEEPALIVE_TIMEOUT_MS) & Action.Keepalive).toBeTruthy();
    const k = packet(0, 0);
    b.seal(k, 0, MsgType.Transport, 0, 10 + KEEPALIVE_TIMEOUT_MS);
    expect(b.poll(10 + KEEPALIVE_TIMEOUT_MS + 1) & Action.Keepalive).toBe(0);
    const c = new Session(backend, { persistentKeepaliveMs: 25_000 });
    c.install(fakeHandshake(0)[0]);
    c.seal(packet(0, 0), 0, MsgType.Transport, 0, 0);
    expect(c.poll(24_999) & Action.Keepalive).toBe(0);
    expect(c.poll(25_000) & Action.Keepalive).toBeTruthy();
  });

  test("malformed keys are refused with a typed error", () => {
    const s = new Session(backend);
    const [k] = fakeHandshake(0);
    expect(() => s.install({ ...k, sendKey: new Uint8Array(16) })).toThrow("32 bytes");
    expect(() => s.install({ ...k, localIndex: 2 ** 32 })).toThrow("u32");
  });

  test("continuous traffic both ways across many rekeys (time and message limit) loses no packet", () => {
    const LATENCY = 20;
    const JITTER = 15; // reorders packets within the window
    const STEP = 10; // one packet each way every 10 ms, twenty during a burst (message-limit rekeys)
    const END = 400_000;
    const BURST = [150_000, 190_000];
    const opts = { rekeyAfterMessages: 20_000 };
    const ends = [new Session(backend, opts), new Session(backend, opts)] as const;
    const [ka, kb] = fakeHandshake(0);
    ends[0].install(ka);
    ends[1].install(kb);
    type Flight = { at: number; to: 0 | 1; bytes: Uint8Array; len: number };
    const wire: Flight[] = [];
    const handshakes: { at: number; act: () => void }[] = [];
    let inProgress = false;
    let rekeys = 0;
    let byMessages = 0;
    let rng = 12345;
    const rand = () => {
      rng = (rng * 1103515245 + 12345) & 0x7fffffff;
      return rng / 0x7fffffff;
    };
    const seqs: [number, number] = [0, 0];
    const got = [new Set<number>(), new Set<number>()];
    const staged: [number, number][][] = [[], []];
    const send = (from: 0 | 1, now: number, len: number, seq: number) => {
      if (!ends[from].canSend(now)) {
        staged[from]!.push([len, seq]); // what an owner does while a handshake is pending
        return;
      }
      for (const [l, s] of staged[from]!.splice(0)) send(from, now, l, s);
      const buf = packet(seq, len);
      const n = ends[from].seal(buf, 0, MsgType.Transport, len, now);
      if (n < 0) throw new Error(`seal failed: ${-n} at ${now}`);
      wire.push({ at: now + LATENCY + rand() * JITTER, to: (1 - from) as 0 | 1, bytes: buf, len: n });
    };
    const deliver = (now: number) => {
      wire.sort((x, y) => x.at - y.at);
      while (wire.length > 0 && wire[0]!.at <= now) {
        const f = wire.shift()!;
        const n = ends[f.to].open(f.bytes, 0, f.len, now);
        if (n < 0) throw new Error(`drop ${-n} at ${now}`);
        if (n > 0) {
          const seq = new DataView(f.bytes.buffer).getUint32(TRANSPORT_HEADER_SIZE, true);
          if (got[f.to]!.has(seq)) throw new Error("duplicate delivered");
          got[f.to]!.add(seq);
        }
      }
      for (let i = handshakes.length - 1; i >= 0; i--) {
        if (handshakes[i]!.at <= now) {
          handshakes[i]!.act();
          handshakes.splice(i, 1);
        }
      }
    };
    for (let now = 0; now < END; now += STEP) {
      deliver(now);
      for (const side of [0, 1] as const) {
        const flags = ends[side].poll(now);
        if (flags & Action.Rekey && !inProgress) {
          // initiation reaches the peer after LATENCY, the response comes back after 2 * LATENCY
          inProgress = true;
          if ((ends[side].current?.sendCounter ?? 0) >= opts.rekeyAfterMessages) byMessages++;
          ends[side].rekeyStarted(now);
          const [ki, kr] = fakeHandshake(now + LATENCY);
          const peer = (1 - side) as 0 | 1;
          handshakes.push({ at: now + LATENCY, act: () => ends[peer].install(kr) });
          handshakes.push({
            at: now + 2 * LATENCY,
            act: () => {
              ends[side].install({ ...ki, establishedAt: now + 2 * LATENCY });
              inProgress = false;
              rekeys++;
            },
          });
        }
        if (flags & Action.Keepalive) send(side, now, 0, 0);
        const count = now >= BURST[0]! && now < BURST[1]! ? 20 : 1;
        for (let i = 0; i < count; i++) send(side, now, 32, seqs[side]++);
      }
    }
    deliver(END + 10 * LATENCY);
    expect(staged[0]!.length + staged[1]!.length).toBe(0);
    expect(rekeys).toBeGreaterThanOrEqual(5);
    expect(byMessages).toBeGreaterThanOrEqual(2);
    expect(rekeys - byMessages).toBeGreaterThanOrEqual(2);
    expect(got[1]!.size).toBe(seqs[0]!);
    expect(got[0]!.size).toBe(seqs[1]!);
    for (const s of ends) expect(s.drops.reduce((x, y) => x + y, 0)).toBe(0);
  }, 30_000);
});
