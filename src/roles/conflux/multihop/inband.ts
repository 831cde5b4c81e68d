/**
 * Messages that travel inside a path's end-to-end session next to IP packets (DATA cells). An IP
 * packet starts with version 4 or 6 in its top nibble; these start with a byte below 0x10, so the
 * two never mix. They are encrypted and padded like data, so relays cannot tell probes from
 * traffic and cannot favour one over the other (research/rl.md "measure, don't trust").
 *
 *   0       1                9
 *   | kind  | token u64 LE    | stamp f64 LE (origin's clock, ms) | zero padding …
 *
 *   PROBE      origin → destination, padded to PROBE_SIZE; answered by PROBE_ECHO (same size)
 *   ACK_ASK    origin → destination, right after data; answered by ACK (acknowledges the data
 *              sent before it on this path: paths are FIFO)
 *   TRAIN      origin → destination, sent in trains back to back (trains.ts); answered by
 *              TRAIN_ECHO (same size, same token)
 */

export const InbandKind = {
  Probe: 1,
  ProbeEcho: 2,
  AckAsk: 3,
  Ack: 4,
  Train: 5,
  TrainEcho: 6,
} as const;
export type InbandKind = (typeof InbandKind)[keyof typeof InbandKind];

export const INBAND_HEADER_SIZE = 17;
/** Probes are padded to about a data packet, so a slow link shows in their RTT. */
export const PROBE_SIZE = 1000;

export interface Inband {
  readonly kind: InbandKind;
  readonly token: bigint;
  readonly stamp: number;
}

export function isInband(b: Uint8Array): boolean {
  return b.length > 0 && b[0]! < 0x10;
}

export function encodeInband(
  kind: InbandKind,
  token: bigint,
  stamp: number,
  size = INBAND_HEADER_SIZE,
): Uint8Array {
  const out = new Uint8Array(Math.max(INBAND_HEADER_SIZE, size));
  const v = new DataView(out.buffer);
  out[0] = kind;
  v.setBigUint64(1, token, true);
  v.setFloat64(9, stamp, true);
  return out;
}

/** Parses hostile bytes; null when malformed. */
export function decodeInband(b: Uint8Array): Inband | null {
  if (b.length < INBAND_HEADER_SIZE) return null;
  const kind = b[0]!;
  if (kind < InbandKind.Probe || kind > InbandKind.TrainEcho) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const stamp = v.getFloat64(9, true);
  if (!Number.isFinite(stamp)) return null;
  return { kind: kind as InbandKind, token: v.getBigUint64(1, true), stamp };
}

/** The answer to a PROBE, TRAIN or ACK_ASK: same token and stamp, same size for a probe or train. */
export function answerOf(m: Inband, size: number): Uint8Array | null {
  if (m.kind === InbandKind.Probe) return encodeInband(InbandKind.ProbeEcho, m.token, m.stamp, size);
  if (m.kind === InbandKind.Train) return encodeInband(InbandKind.TrainEcho, m.token, m.stamp, size);
  if (m.kind === InbandKind.AckAsk) return encodeInband(InbandKind.Ack, m.token, m.stamp);
  return null;
}

/** Wall-clock milliseconds with sub-millisecond resolution (sub-ms link RTTs must not round to 0 or 1). */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}
