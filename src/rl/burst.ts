/**
 * What a path does to a burst (research/rl.md §3 "Cost": bulk flows cost bytes/goodput). A single
 * probe, or a light flow of pings, crosses a slow link as fast as a fast one: a token bucket lets
 * its burst through at line rate and an idle queue adds nothing, so RTT alone cannot tell a 1 Mbit/s
 * link from a 10 Gbit/s one. A *train* can: the node sends TRAIN_PACKETS probes of TRAIN_PACKET_SIZE
 * bytes back to back over the path (encrypted and padded like data), the far end echoes each, and
 * the spread of the echoes is the time the path's bottleneck needs to drain the burst. Past the
 * bottleneck's bucket and queue, the rest of the train is dropped, and the lost share counts too.
 *
 *   burst = spread · (sent − 1)/(received − 1) · sent/received      (ms, capped at BURST_CAP_MS)
 *
 * that is, the time to deliver the whole train at the measured pace, with the lost share sent
 * again. It is learnt per path as a discounted estimate and added to the path's cost, so a path
 * that cannot carry a burst loses to one that can, by RTT plus the burst's drain time. Only nodes
 * that send trains get samples; without any the cost is RTT-only, as before.
 *
 * Noise (a busy relay, a stalled event loop, other traffic) only ever slows a drain, and it comes
 * and goes; a slow link slows every train. So the estimate is the faster of the last two trains: one
 * slow train on a busy host moves nothing (it used to add a quarter of its drain time, up to 250 ms,
 * to a path that was fine, and the comparison with a +40 ms path turned on it), two in a row do.
 */
import { Estimate } from "./estimate.ts";

/** Probes in one train: 32 KB, more than the 16 KB bucket plus ~6 KB queue of a 1 Mbit/s tbf. */
export const TRAIN_PACKETS = 32;
/** Bytes per train probe (about a full data packet). */
export const TRAIN_PACKET_SIZE = 1_000;
/** A train with at most one echo measured nothing but loss: it costs this much (ms). */
export const BURST_CAP_MS = 1_000;
/** The active path and the standby are measured this often (± timer jitter) while data wants them. */
export const TRAIN_PERIOD_MS = 10_000;
/** Other measured candidates: this often. */
export const TRAIN_CHALLENGER_PERIOD_MS = 20_000;
/** At most one train per destination starts in this interval (trains of one source must not collide). */
export const TRAIN_GAP_MS = 1_000;

export interface TrainResult {
  /** Probes sent. */
  readonly sent: number;
  /** Echoes received before the train's deadline. */
  readonly received: number;
  /** Arrival of the first and last echo (ms, any clock). */
  readonly firstEchoAt: number;
  readonly lastEchoAt: number;
}

/** The burst cost (ms) of one train; NaN for a train that was not sent. */
export function burstMs(t: TrainResult): number {
  if (!(t.sent > 1) || t.received < 0 || t.received > t.sent) return Number.NaN;
  if (t.received <= 1) return BURST_CAP_MS;
  const spread = Math.max(0, t.lastEchoAt - t.firstEchoAt);
  const ms = ((spread * (t.sent - 1)) / (t.received - 1)) * (t.sent / t.received);
  return Math.min(BURST_CAP_MS, ms);
}

/**
 * A path's burst drain time: the faster of its last two trains (see the file comment). Its sample
 * weight decays like any Estimate's; reset() forgets both trains.
 */
export class BurstEstimate extends Estimate {
  /** The previous train's drain time (NaN before the first train). */
  private previous = Number.NaN;

  override add(sample: number, now: number, halfLifeMs: number, maxWeight: number): void {
    const before = this.previous;
    super.add(sample, now, halfLifeMs, maxWeight);
    this.previous = sample;
    if (!Number.isNaN(before)) this.mu = Math.min(before, sample);
  }

  override reset(): void {
    super.reset();
    this.previous = Number.NaN;
  }
}
