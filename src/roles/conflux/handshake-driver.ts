/**
 * Drives Anchor handshakes for one node: one responder for everyone, one initiator per peer we
 * dial. The machines are pure (src/anchor); this file owns the clock, the retransmissions used
 * for hole punching, and the hand-off of finished sessions. Datagrams arrive from the data
 * plane's control ring and leave through the same UDP socket.
 */
import type { Certificate } from "../../anchor/certificate.ts";
import type { AnchorError } from "../../anchor/errors.ts";
import {
  type Established,
  HandshakeInitiator,
  type HandshakeLocal,
  type HandshakeOutput,
  HandshakeResponder,
  peekHandshakeId,
} from "../../anchor/handshake.ts";
import { MsgType } from "../../anchor/message-type.ts";
import type { Endpoint } from "../../ffi/udp.ts";

/** Re-send an unanswered initiation this often while punching (NAT mappings open at different times). */
export const PUNCH_RESEND_MS = 400;
/** Resends before leaving the rest to the initiator's own REKEY_TIMEOUT retransmission. */
export const PUNCH_RESENDS = 8;
/**
 * Above this many initiation fragments per second the responder is "under load": an initiation
 * then needs a valid cookie (mac2) before it costs any KEM work or reassembly memory. An honest
 * initiation is 8 fragments, so this admits ~25 handshakes/s before cookies are demanded.
 */
export const UNDER_LOAD_FRAGMENTS_PER_S = 200;

export interface DatagramSink {
  send(datagram: Uint8Array, to: Endpoint): void;
}

export interface HandshakeEvents {
  /** A session is ready; `endpoint` is where the peer's last handshake datagram came from. */
  established(e: Established, endpoint: Endpoint, asInitiator: boolean): void;
  /** A handshake with a peer we dialled gave up or was refused. */
  failed(peerIdHex: string, error: AnchorError | string): void;
}

interface Dial {
  readonly initiator: HandshakeInitiator;
  readonly peerIdHex: string;
  endpoints: Endpoint[];
  datagrams: Uint8Array[];
  resends: number;
  nextResend: number;
}

export class HandshakeDriver {
  readonly #responder: HandshakeResponder;
  readonly #dials = new Map<string, Dial>();
  readonly #byHandshakeId = new Map<number, Dial>();
  readonly counters = { dropped: 0, rejected: 0, established: 0, failed: 0, underLoad: 0 };
  #windowStart = 0;
  #windowCount = 0;

  constructor(
    readonly local: HandshakeLocal,
    readonly sink: DatagramSink,
    readonly events: HandshakeEvents,
    now: number,
    readonly underLoadThreshold = UNDER_LOAD_FRAGMENTS_PER_S,
  ) {
    this.#responder = new HandshakeResponder(local, now);
  }

  get responderStats() {
    return this.#responder.stats;
  }

  isDialling(peerIdHex: string): boolean {
    return this.#dials.has(peerIdHex);
  }

  /** Starts (or re-targets) a handshake to `peer` through every candidate endpoint at once. */
  dial(peer: Certificate, peerIdHex: string, endpoints: Endpoint[], now: number): void {
    const existing = this.#dials.get(peerIdHex);
    if (existing) {
      existing.endpoints = mergeEndpoints(existing.endpoints, endpoints);
      existing.resends = 0;
      existing.nextResend = now;
      return;
    }
    const initiator = new HandshakeInitiator(this.local, peer, now);
    const dial: Dial = {
      initiator,
      peerIdHex,
      endpoints: [...endpoints],
      datagrams: [],
      resends: 0,
      nextResend: 0,
    };
    this.#dials.set(peerIdHex, dial);
    this.#apply(dial, initiator.start(now), undefined, now);
  }

  cancel(peerIdHex: string): void {
    const dial = this.#dials.get(peerIdHex);
    if (!dial) return;
    this.#dials.delete(peerIdHex);
    this.#byHandshakeId.delete(dial.initiator.handshakeId);
  }

  /** One non-transport datagram from the network. Never throws. */
  receive(d: Uint8Array, from: Endpoint, now: number): void {
    const type = d[0];
    if (type === MsgType.HandshakeInitiation) {
      const underLoad = this.#countInitiation(now);
      if (underLoad) this.counters.underLoad++;
      const out = this.#responder.receive(d, endpointKey(from), now, underLoad);
      this.#onResponderOutput(out, from);
      return;
    }
    if (type === MsgType.HandshakeResponse || type === MsgType.CookieReply) {
      const id = peekHandshakeId(d);
      const dial = id === undefined ? undefined : this.#byHandshakeId.get(id);
      if (!dial) {
        this.counters.dropped++;
        return;
      }
      this.#apply(dial, dial.initiator.receive(d, now, endpointKey(from)), from, now);
      return;
    }
    if (type !== MsgType.Punch) this.counters.dropped++;
  }

  /** Retransmissions, punching resends and time-outs. Call every ~100 ms. */
  tick(now: number): void {
    for (const dial of [...this.#dials.values()]) {
      const out = dial.initiator.tick(now);
      if (out.kind !== "pending") {
        this.#apply(dial, out, undefined, now);
        continue;
      }
      if (dial.resends < PUNCH_RESENDS && now >= dial.nextResend && dial.datagrams.length > 0) {
        dial.resends++;
        dial.nextResend = now + PUNCH_RESEND_MS;
        this.#sendAll(dial.datagrams, dial.endpoints);
      }
    }
  }

  #apply(dial: Dial, out: HandshakeOutput, from: Endpoint | undefined, now: number): void {
    switch (out.kind) {
      case "send":
        // A new attempt has a new handshake id: re-index it.
        for (const [id, d] of this.#byHandshakeId) if (d === dial) this.#byHandshakeId.delete(id);
        this.#byHandshakeId.set(dial.initiator.handshakeId, dial);
        if (out.datagrams[0]?.[0] !== MsgType.CookieReply) dial.datagrams = out.datagrams;
        dial.nextResend = now + PUNCH_RESEND_MS;
        this.#sendAll(out.datagrams, from ? [from] : dial.endpoints);
        return;
      case "established":
        this.cancel(dial.peerIdHex);
        this.counters.established++;
        this.events.established(out, from ?? dial.endpoints[0]!, true);
        return;
      case "failed":
      case "rejected":
        this.cancel(dial.peerIdHex);
        this.counters.failed++;
        this.events.failed(dial.peerIdHex, out.error);
        return;
      case "dropped":
        this.counters.dropped++;
        return;
      case "pending":
        return;
    }
  }

  #onResponderOutput(out: HandshakeOutput, from: Endpoint): void {
    switch (out.kind) {
      case "send":
        this.#sendAll(out.datagrams, [from]);
        return;
      case "established":
        this.#sendAll(out.datagrams, [from]);
        this.counters.established++;
        this.events.established(out, from, false);
        return;
      case "rejected":
        this.counters.rejected++;
        return;
      case "dropped":
        this.counters.dropped++;
        return;
      default:
        return;
    }
  }

  /** Initiation fragments in the current one-second window; true once over the threshold. */
  #countInitiation(now: number): boolean {
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    this.#windowCount++;
    return this.#windowCount > this.underLoadThreshold;
  }

  #sendAll(datagrams: Uint8Array[], endpoints: Endpoint[]): void {
    for (const to of endpoints) for (const d of datagrams) this.sink.send(d, to);
  }
}

export function endpointKey(e: Endpoint): string {
  return e.ip.includes(":") ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

function mergeEndpoints(a: Endpoint[], b: Endpoint[]): Endpoint[] {
  const seen = new Map(a.map((e) => [endpointKey(e), e]));
  for (const e of b) seen.set(endpointKey(e), e);
  return [...seen.values()];
}
