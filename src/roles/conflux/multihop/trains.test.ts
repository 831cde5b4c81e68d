import { describe, expect, test } from "bun:test";
import { TRAIN_PACKET_SIZE, TRAIN_PACKETS, type TrainResult } from "../../../rl/burst.ts";
import { answerOf, decodeInband, InbandKind } from "./inband.ts";
import { TRAIN_DEADLINE_MS, Trains } from "./trains.ts";

/** A path that keeps what is sent on it; `refuseAfter` sends succeed, then it refuses. */
function fakePath(refuseAfter = Number.POSITIVE_INFINITY) {
  const sent: Uint8Array[] = [];
  return {
    sent,
    send(m: Uint8Array) {
      if (sent.length >= refuseAfter) return false;
      sent.push(m);
      return true;
    },
  };
}

function collect() {
  const reports: { pathId: number; t: TrainResult; now: number }[] = [];
  const trains = new Trains((pathId, t, now) => reports.push({ pathId, t, now }));
  return { reports, trains };
}

/** What the far end sends back for a train message. */
function echoOf(m: Uint8Array) {
  const e = answerOf(decodeInband(m)!, m.length)!;
  return decodeInband(e)!;
}

describe("trains", () => {
  test("sends TRAIN_PACKETS padded TRAIN messages that the far end echoes at the same size", () => {
    const { trains } = collect();
    const p = fakePath();
    trains.start(7, p, 1_000);
    expect(p.sent.length).toBe(TRAIN_PACKETS);
    for (const m of p.sent) {
      expect(m.length).toBe(TRAIN_PACKET_SIZE);
      expect(decodeInband(m)?.kind).toBe(InbandKind.Train);
      const e = answerOf(decodeInband(m)!, m.length)!;
      expect(e.length).toBe(TRAIN_PACKET_SIZE);
      expect(decodeInband(e)?.kind).toBe(InbandKind.TrainEcho);
    }
  });

  test("reports first and last echo once every echo is in; duplicates and strays do not count", () => {
    const { reports, trains } = collect();
    const p = fakePath();
    trains.start(7, p, 1_000);
    p.sent.forEach((m, i) => {
      trains.echo(7, echoOf(m).token, 1_010 + i);
      if (i === 0) trains.echo(7, echoOf(m).token, 1_010); // a duplicate
    });
    trains.echo(8, echoOf(p.sent[0]!).token, 1_100); // another path's id
    expect(reports).toEqual([
      {
        pathId: 7,
        t: {
          sent: TRAIN_PACKETS,
          received: TRAIN_PACKETS,
          firstEchoAt: 1_010,
          lastEchoAt: 1_010 + TRAIN_PACKETS - 1,
        },
        now: 1_010 + TRAIN_PACKETS - 1,
      },
    ]);
    expect(trains.counters.strayEchoes).toBe(2);
  });

  test("a train with lost echoes ends at its deadline with what arrived", () => {
    const { reports, trains } = collect();
    const p = fakePath();
    trains.start(3, p, 0);
    for (const m of p.sent.slice(0, 20)) trains.echo(3, echoOf(m).token, 50);
    trains.tick(TRAIN_DEADLINE_MS - 1);
    expect(reports.length).toBe(0);
    trains.tick(TRAIN_DEADLINE_MS);
    expect(reports[0]?.t).toEqual({ sent: TRAIN_PACKETS, received: 20, firstEchoAt: 50, lastEchoAt: 50 });
    // a late echo of a finished train is a stray
    trains.echo(3, echoOf(p.sent[25]!).token, TRAIN_DEADLINE_MS + 5);
    expect(reports.length).toBe(1);
  });

  test("a path that is gone or refuses sends reports a train that was not sent", () => {
    const { reports, trains } = collect();
    trains.start(1, undefined, 0);
    trains.start(2, fakePath(1), 0);
    expect(reports.map((r) => [r.pathId, r.t.sent])).toEqual([
      [1, 0],
      [2, 0],
    ]);
    const partial = fakePath(10);
    trains.start(4, partial, 0);
    for (const m of partial.sent) trains.echo(4, echoOf(m).token, 5);
    expect(reports[2]?.t.sent).toBe(10);
    expect(reports[2]?.t.received).toBe(10);
  });
});
