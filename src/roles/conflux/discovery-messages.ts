/**
 * Bodies of the node's discovery messages on Master (the envelopes around them are signed, and
 * signalling is sealed, by src/control). Bodies are small JSON objects parsed field by field:
 * anything unexpected is refused, never half-used.
 *
 *   presence (vn.presence.<id>, broadcast)  { v: 1, cert: base64 Anchor certificate, port, epoch?, quarantined? }
 *   signal   (vn.signal.<id>, sealed)       { v: 1, kind: "offer"|"answer", session: u32, candidates: [{ip, port}] }
 *
 * Presence carries the certificate so that a peer can verify the sender (and learn its keys)
 * without asking anyone; candidate endpoints are only ever sent sealed to one peer. The optional
 * `epoch` (u32) is drawn at random whenever the node starts or drops all its sessions: a peer that
 * sees it change knows its session keys are gone and re-establishes at once instead of waiting for
 * the session to fall silent. `quarantined: true` says the sender was quarantined and refuses every
 * session: peers stop dialling it until a presence without it. A node's word is only ever trusted to
 * keep peers away (never to let it in), so honouring it is safe.
 */
import { isIP } from "node:net";
import { VeilnetError } from "../../errors.ts";
import type { Endpoint } from "../../ffi/udp.ts";

export const DISCOVERY_VERSION = 1;
export const MAX_CANDIDATES = 16;
export const MAX_PRESENCE_BYTES = 16 * 1024;
export const MAX_SIGNAL_BYTES = 4 * 1024;

export class DiscoveryMessageError extends VeilnetError {
  override readonly name = "DiscoveryMessageError";
}

export interface Presence {
  readonly certificate: Uint8Array;
  readonly port: number;
  /** Changes whenever the sender's sessions were all dropped (restart, quarantine, key invalidation). */
  readonly epoch?: number;
  /** The sender is quarantined and refuses sessions (absent when false). */
  readonly quarantined?: boolean;
}

export type SignalKind = "offer" | "answer";

export interface Signal {
  readonly kind: SignalKind;
  /** Random id of this dial attempt: an answer echoes the offer's. */
  readonly session: number;
  readonly candidates: readonly Endpoint[];
}

export function encodePresence(p: Presence): Uint8Array {
  return json({
    v: DISCOVERY_VERSION,
    cert: Buffer.from(p.certificate).toString("base64"),
    port: p.port,
    ...(p.epoch === undefined ? {} : { epoch: p.epoch }),
    ...(p.quarantined ? { quarantined: true } : {}),
  });
}

export function decodePresence(body: Uint8Array): Presence {
  const o = object(body, MAX_PRESENCE_BYTES);
  version(o);
  if (typeof o.cert !== "string" || !/^[A-Za-z0-9+/=]+$/.test(o.cert)) bad("presence cert is not base64");
  const certificate = new Uint8Array(Buffer.from(o.cert as string, "base64"));
  if (o.quarantined !== undefined && o.quarantined !== true)
    bad("presence quarantined must be true when present");
  return {
    certificate,
    port: port(o.port),
    ...(o.epoch === undefined ? {} : { epoch: u32(o.epoch, "presence epoch") }),
    ...(o.quarantined === true ? { quarantined: true } : {}),
  };
}

export function encodeSignal(s: Signal): Uint8Array {
  return json({ v: DISCOVERY_VERSION, kind: s.kind, session: s.session, candidates: s.candidates });
}

export function decodeSignal(body: Uint8Array): Signal {
  const o = object(body, MAX_SIGNAL_BYTES);
  version(o);
  if (o.kind !== "offer" && o.kind !== "answer") bad("signal kind must be offer or answer");
  const session = u32(o.session, "signal session");
  if (!Array.isArray(o.candidates) || o.candidates.length > MAX_CANDIDATES) bad("signal candidates");
  const candidates = (o.candidates as unknown[]).map((c) => {
    if (typeof c !== "object" || c === null) bad("candidate must be an object");
    const { ip, port: p } = c as Record<string, unknown>;
    if (typeof ip !== "string" || isIP(ip) === 0) bad("candidate ip");
    return { ip: ip as string, port: port(p) };
  });
  return { kind: o.kind as SignalKind, session, candidates };
}

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function object(body: Uint8Array, max: number): Record<string, unknown> {
  if (body.length > max) bad(`body larger than ${max} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    bad("body is not UTF-8 JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    bad("body is not a JSON object");
  return parsed as Record<string, unknown>;
}

function version(o: Record<string, unknown>): void {
  if (o.v !== DISCOVERY_VERSION) bad(`unsupported discovery version ${String(o.v)}`);
}

function u32(value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffffffff)
    bad(`${what} must be a u32`);
  return value as number;
}

function port(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535)
    bad("port must be 1..65535");
  return value as number;
}

function bad(message: string): never {
  throw new DiscoveryMessageError("DISCOVERY_MALFORMED", message);
}
