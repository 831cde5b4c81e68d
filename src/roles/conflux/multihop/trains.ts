/**
 * Burst trains on built paths (src/rl/burst.ts): TRAIN_PACKETS in-band TRAIN messages of
 * TRAIN_PACKET_SIZE bytes sent back to back over one path; the destination echoes each (same size,
 * same token, inband.ts). The arrival times of the echoes go back to the agent, which learns how long
 * the path takes to drain a burst: a slow link that a ping crosses as fast as any other shows here.
 *
 * A train ends when every echo is in, or TRAIN_DEADLINE_MS after it was sent, whichever is first.
 * A path that cannot carry the train (gone, not ready, refused the send) reports `sent` 0, which
 * the agent ignores.
 */
import { TRAIN_PACKET_SIZE, TRAIN_PACKETS, type TrainResult } from "../../../rl/burst.ts";
import { encodeInband, InbandKind } from "./inband.ts";

/* Implementation constants */
/** Echoes later than this after the train was sent are not waited for. */
export const TRAIN_DEADLINE_MS = 2_000;
/** Token layout: train sequence number above, probe index in the low TRAIN_INDEX_BITS bits. */
const TRAIN_INDEX_BITS = 8n;
const TRAIN_INDEX_MASK = (1n << TRAIN_INDEX_BITS) - 1n;

export interface TrainPath {
  /** Sends one in-band message on the path; false if it could not be sent. */
  send(message: Uint8Array, now: number): boolean;
}

interface Train {
  readonly pathId: number;
  readonly seq: bigint;
  readonly sentAt: number;
  sent: number;
  received: number;
  firstEchoAt: number;
  lastEchoAt: number;
  readonly seen: Uint8Array;
}

export class Trains {
  readonly #byPath = new Map<number, Train>();
  #seq = 1n;
  readonly counters = { trains: 0, probes: 0, echoes: 0, strayEchoes: 0 };

  constructor(private readonly report: (pathId: number, t: TrainResult, now: number) => void) {}

  /** Sends a train on `pathId` over `path` (undefined: the path is gone; reported as not sent). */
  start(pathId: number, path: TrainPath | undefined, now: number): void {
    if (this.#byPath.has(pathId)) return;
    const seq = this.#seq++;
    const t: Train = {
      pathId,
      seq,
      sentAt: now,
      sent: 0,
      received: 0,
      firstEchoAt: Number.NaN,
      lastEchoAt: Number.NaN,
      seen: new Uint8Array(TRAIN_PACKETS),
    };
    if (path) {
      for (let i = 0; i < TRAIN_PACKETS; i++) {
        const token = (seq << TRAIN_INDEX_BITS) | BigInt(i);
        if (!path.send(encodeInband(InbandKind.Train, token, now, TRAIN_PACKET_SIZE), now)) break;
        t.sent++;
      }
    }
    if (t.sent < 2) {
      this.report(pathId, { sent: 0, received: 0, firstEchoAt: now, lastEchoAt: now }, now);
      return;
    }
    this.counters.trains++;
    this.counters.probes += t.sent;
    this.#byPath.set(pathId, t);
  }

  /** A TRAIN_ECHO with `token` came back on `pathId`. */
  echo(pathId: number, token: bigint, now: number): void {
    const t = this.#byPath.get(pathId);
    const index = Number(token & TRAIN_INDEX_MASK);
    if (!t || token >> TRAIN_INDEX_BITS !== t.seq || index >= t.sent || t.seen[index]) {
      this.counters.strayEchoes++;
      return;
    }
    t.seen[index] = 1;
    t.received++;
    this.counters.echoes++;
    if (Number.isNaN(t.firstEchoAt)) t.firstEchoAt = now;
    t.lastEchoAt = now;
    if (t.received === t.sent) this.#finish(t, now);
  }

  /** Ends trains past their deadline; call on every tick. */
  tick(now: number): void {
    for (const t of this.#byPath.values()) if (now - t.sentAt >= TRAIN_DEADLINE_MS) this.#finish(t, now);
  }

  #finish(t: Train, now: number): void {
    this.#byPath.delete(t.pathId);
    this.report(
      t.pathId,
      {
        sent: t.sent,
        received: t.received,
        firstEchoAt: t.received > 0 ? t.firstEchoAt : now,
        lastEchoAt: t.received > 0 ? t.lastEchoAt : now,
      },
      now,
    );
  }
}
