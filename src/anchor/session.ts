/**
 * A transport session with one peer: keypair rotation, counters, replay, and the rekey / keepalive
 * / expiry timers as pure functions of the caller's clock (milliseconds). No I/O, no timers of its
 * own: the owner calls `poll(now)` and acts on the flags, and asks `nextDeadline(now)` when to call
 * again. Handshakes are not done here: when `poll` says Rekey, the owner runs one and `install`s the
 * resulting SessionKeys.
 *
 * Keypairs follow WireGuard: `current` sends; `previous` still receives packets that were in flight
 * across a rekey; `next` is a responder's fresh keypair, which becomes current only when the peer
 * proves it has it (the first authenticated packet under it). So a rekey never drops a packet.
 */
import type { AeadBackend } from "./aead/aead.ts";
import { Keypair } from "./keypair.ts";
import type { SessionKeys } from "./session-keys.ts";
import {
  COUNTER_LIMIT,
  newTransportHeader,
  openTransport,
  parseTransportHeader,
  sealTransport,
  TRANSPORT_HEADER_SIZE,
  type TransportHeader,
} from "./transport.ts";
import { Drop } from "./transport-errors.ts";

/* Specification constants (WireGuard's timers) */
export const REKEY_AFTER_TIME_MS = 120_000;
export const REJECT_AFTER_TIME_MS = 180_000;
export const REKEY_ATTEMPT_TIME_MS = 90_000;
export const REKEY_TIMEOUT_MS = 5_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;
/** Spec: rekey after 2^60 messages. */
export const REKEY_AFTER_MESSAGES_SPEC = 2 ** 60;

/* Implementation constants */
/** Counters are exact JS numbers, so rekey long before 2^53 (at 10 Mpps this is 14 years). */
export const REKEY_AFTER_MESSAGES = Math.min(REKEY_AFTER_MESSAGES_SPEC, COUNTER_LIMIT / 2);
/** The initiator refreshes keys on receive this early, so they never expire under a live flow. */
const REKEY_ON_RECEIVE_AGE_MS = REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS;
/** The responder rekeys itself only if the initiator has not, a little later (avoids both racing). */
const RESPONDER_REKEY_AGE_MS = REKEY_AFTER_TIME_MS + 2 * REKEY_TIMEOUT_MS;
/** All key material is wiped after this long without a new handshake. */
export const ZERO_KEYS_AFTER_MS = 3 * REJECT_AFTER_TIME_MS;

/** What the owner should do now (bit flags from `poll`). */
export const Action = {
  None: 0,
  /** Start a handshake (call `rekeyStarted(now)` when it is sent). */
  Rekey: 1,
  /** Send an empty transport message (keepalive / key confirmation). */
  Keepalive: 2,
  /** No keypair can send: queue traffic until a handshake completes. */
  Expired: 4,
  /** Rekey attempts exhausted (REKEY_ATTEMPT_TIME): report the peer unreachable. */
  GaveUp: 8,
  /** Keys were wiped after ZERO_KEYS_AFTER_MS; the session is empty. */
  Zeroed: 16,
} as const;

export interface SessionOptions {
  /** Rekey when the send counter reaches this (default REKEY_AFTER_MESSAGES). */
  rekeyAfterMessages?: number;
  /** Refuse to send at this counter (default COUNTER_LIMIT). Must exceed rekeyAfterMessages. */
  rejectAfterMessages?: number;
  /** Send a keepalive when nothing was sent for this long (0 = off); for NAT bindings. */
  persistentKeepaliveMs?: number;
}

export class Session {
  readonly #backend: AeadBackend;
  readonly #rekeyAfterMessages: number;
  readonly #rejectAfterMessages: number;
  readonly #persistentKeepaliveMs: number;
  #current: Keypair | null = null;
  #previous: Keypair | null = null;
  #next: Keypair | null = null;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  #lastReceivedAt = Number.NEGATIVE_INFINITY;
  #lastDataReceivedAt = Number.NEGATIVE_INFINITY;
  #lastInstalledAt = Number.NEGATIVE_INFINITY;
  #rekeyFirstAt = Number.NaN;
  #rekeyLastAt = Number.NaN;
  #confirmPending = false;
  /** Header of the last message given to `open` (reused; valid until the next call). */
  readonly rx: TransportHeader = newTransportHeader();
  /** Drops by Drop code (index = code). */
  readonly drops = new Float64Array(16);
  sent = 0;
  received = 0;

  constructor(backend: AeadBackend, options: SessionOptions = {}) {
    this.#backend = backend;
    this.#rekeyAfterMessages = options.rekeyAfterMessages ?? REKEY_AFTER_MESSAGES;
    this.#rejectAfterMessages = Math.min(options.rejectAfterMessages ?? COUNTER_LIMIT, COUNTER_LIMIT);
    this.#persistentKeepaliveMs = options.persistentKeepaliveMs ?? 0;
  }

  /** The keypair that sends now (null before the first confirmed handshake). */
  get current(): Keypair | null {
    return this.#current;
  }
  get previous(): Keypair | null {
    return this.#previous;
  }
  get next(): Keypair | null {
    return this.#next;
  }

  /** True when `seal` would succeed for lack of nothing but room: stage traffic while false. */
  canSend(now: number): boolean {
    const kp = this.#current;
    return (
      kp !== null && now - kp.createdAt < REJECT_AFTER_TIME_MS && kp.sendCounter < this.#rejectAfterMessages
    );
  }

  /** Local indexes of live keypairs, so the owner can route receiver indexes to this session. */
  localIndexes(): number[] {
    const out: number[] = [];
    for (const k of [this.#current, this.#previous, this.#next]) if (k) out.push(k.localIndex);
    return out;
  }

  /**
   * Installs keys from a completed handshake (throws SessionError on malformed keys). An initiator
   * sends with them at once and owes the peer a confirmation (Action.Keepalive if nothing else is
   * sent); a responder parks them as `next` until the peer uses them.
   */
  install(keys: SessionKeys): void {
    const kp = new Keypair(this.#backend, keys);
    if (kp.isInitiator) {
      const next = this.#next;
      if (next !== null) {
        this.#next = null;
        this.#previous?.destroy();
        this.#previous = next;
        this.#current?.destroy();
      } else {
        this.#previous?.destroy();
        this.#previous = this.#current;
      }
      this.#current = kp;
      this.#confirmPending = true;
    } else {
      this.#next?.destroy();
      this.#next = kp;
      this.#previous?.destroy();
      this.#previous = null;
    }
    this.#lastInstalledAt = keys.establishedAt;
    this.#rekeyFirstAt = Number.NaN;
    this.#rekeyLastAt = Number.NaN;
  }

  /**
   * Seals the plaintext at `buf[pos+16, pos+16+textLen)` into a message of `type` (Transport or
   * PathCell) in place. Returns the message length (starting at `pos`), or -Drop (NoKeys, Expired,
   * CounterLimit, TooLarge). Never throws.
   */
  seal(buf: Uint8Array, pos: number, type: number, textLen: number, now: number): number {
    const kp = this.#current;
    if (kp === null) return this.#drop(Drop.NoKeys);
    if (now - kp.createdAt >= REJECT_AFTER_TIME_MS) return this.#drop(Drop.Expired);
    if (kp.sendCounter >= this.#rejectAfterMessages) return this.#drop(Drop.CounterLimit);
    const n = sealTransport(kp.send, kp.sendNonce, buf, pos, type, kp.remoteIndex, kp.sendCounter, textLen);
    if (n < 0) return this.#drop(Drop.TooLarge);
    kp.sendCounter++;
    this.#lastSentAt = now;
    this.#confirmPending = false;
    this.sent++;
    return n;
  }

  /**
   * Checks and decrypts the message at `buf[pos, pos+len)` in place. Returns the plaintext length
   * (plaintext at `pos+16`; `this.rx` holds the header), or -Drop. Never throws.
   */
  open(buf: Uint8Array, pos: number, len: number, now: number): number {
    const rx = this.rx;
    const bad = parseTransportHeader(buf, pos, len, rx);
    if (bad !== 0) return this.#drop(bad);
    const kp = this.#match(rx.receiver);
    if (kp === null) return this.#drop(Drop.UnknownReceiver);
    if (now - kp.createdAt >= REJECT_AFTER_TIME_MS) return this.#drop(Drop.Expired);
    const n = openTransport(kp.recv, kp.recvNonce, buf, pos, len, rx.counter);
    if (n < 0) return this.#drop(Drop.BadTag);
    // Only an authenticated counter may move the window.
    if (!kp.replay.validate(rx.counter, this.#rejectAfterMessages)) return this.#drop(Drop.Replay);
    if (kp === this.#next) this.#confirmNext();
    kp.received++;
    this.received++;
    this.#lastReceivedAt = now;
    if (n > 0) this.#lastDataReceivedAt = now;
    return n;
  }

  /** The owner sent a handshake initiation now (suppresses Rekey for REKEY_TIMEOUT). */
  rekeyStarted(now: number): void {
    if (Number.isNaN(this.#rekeyFirstAt)) this.#rekeyFirstAt = now;
    this.#rekeyLastAt = now;
  }

  /** What to do at `now` (Action flags). Wipes all keys once they are ZERO_KEYS_AFTER_MS old. */
  poll(now: number): number {
    let flags = 0;
    if (now - this.#lastInstalledAt >= ZERO_KEYS_AFTER_MS && this.#hasKeys()) {
      this.clear();
      return Action.Zeroed | Action.Expired;
    }
    const kp = this.#current;
    const canSend = kp !== null && now - kp.createdAt < REJECT_AFTER_TIME_MS;
    if (!canSend) flags |= Action.Expired;
    if (this.#wantsRekey(now)) {
      if (!Number.isNaN(this.#rekeyFirstAt) && now - this.#rekeyFirstAt >= REKEY_ATTEMPT_TIME_MS) {
        flags |= Action.GaveUp;
      } else if (Number.isNaN(this.#rekeyLastAt) || now - this.#rekeyLastAt >= REKEY_TIMEOUT_MS) {
        flags |= Action.Rekey;
      }
    }
    if (canSend) {
      const passive =
        this.#lastDataReceivedAt > this.#lastSentAt && now - this.#lastDataReceivedAt >= KEEPALIVE_TIMEOUT_MS;
      const persistent =
        this.#persistentKeepaliveMs > 0 && now - this.#lastSentAt >= this.#persistentKeepaliveMs;
      if (this.#confirmPending || passive || persistent) flags |= Action.Keepalive;
    }
    return flags;
  }

  /** The earliest time after `now` at which `poll` may answer differently (for the owner's timer). */
  nextDeadline(now: number): number {
    const times: number[] = [this.#lastInstalledAt + ZERO_KEYS_AFTER_MS];
    const kp = this.#current;
    if (kp) {
      times.push(kp.createdAt + REJECT_AFTER_TIME_MS);
      times.push(kp.createdAt + (kp.isInitiator ? REKEY_AFTER_TIME_MS : RESPONDER_REKEY_AGE_MS));
      times.push(kp.createdAt + REKEY_ON_RECEIVE_AGE_MS);
    }
    if (!Number.isNaN(this.#rekeyLastAt)) times.push(this.#rekeyLastAt + REKEY_TIMEOUT_MS);
    if (!Number.isNaN(this.#rekeyFirstAt)) times.push(this.#rekeyFirstAt + REKEY_ATTEMPT_TIME_MS);
    if (this.#lastDataReceivedAt > this.#lastSentAt)
      times.push(this.#lastDataReceivedAt + KEEPALIVE_TIMEOUT_MS);
    if (this.#persistentKeepaliveMs > 0) times.push(this.#lastSentAt + this.#persistentKeepaliveMs);
    let best = Number.POSITIVE_INFINITY;
    for (const t of times) if (t > now && t < best) best = t;
    return best;
  }

  /** Destroys every keypair (wipes keys). */
  clear(): void {
    this.#current?.destroy();
    this.#previous?.destroy();
    this.#next?.destroy();
    this.#current = this.#previous = this.#next = null;
    this.#confirmPending = false;
  }

  /** Adds to the drop counter and returns -reason. */
  #drop(reason: number): number {
    this.drops[reason]!++;
    return -reason;
  }

  #hasKeys(): boolean {
    return this.#current !== null || this.#previous !== null || this.#next !== null;
  }

  #match(receiver: number): Keypair | null {
    const c = this.#current;
    if (c !== null && c.localIndex === receiver) return c;
    const n = this.#next;
    if (n !== null && n.localIndex === receiver) return n;
    const p = this.#previous;
    if (p !== null && p.localIndex === receiver) return p;
    return null;
  }

  #confirmNext(): void {
    this.#previous?.destroy();
    this.#previous = this.#current;
    this.#current = this.#next;
    this.#next = null;
  }

  #wantsRekey(now: number): boolean {
    const kp = this.#current;
    if (kp === null) return this.#next === null && this.#hasTraffic(); // keys lost while in use
    if (this.#next !== null) return false; // a fresh handshake is waiting for confirmation
    if (kp.sendCounter >= this.#rekeyAfterMessages) return true;
    const age = now - kp.createdAt;
    if (age >= REJECT_AFTER_TIME_MS) return this.#hasTraffic();
    const sentSince = this.#lastSentAt >= kp.createdAt;
    const receivedSince = this.#lastReceivedAt >= kp.createdAt;
    if (kp.isInitiator) {
      return (age >= REKEY_AFTER_TIME_MS && sentSince) || (age >= REKEY_ON_RECEIVE_AGE_MS && receivedSince);
    }
    return age >= RESPONDER_REKEY_AGE_MS && sentSince;
  }

  #hasTraffic(): boolean {
    return this.#lastSentAt > Number.NEGATIVE_INFINITY || this.#lastReceivedAt > Number.NEGATIVE_INFINITY;
  }
}

export { TRANSPORT_HEADER_SIZE };
