/**
 * The receive path of control messages, cheapest check first, never throwing:
 *   1. parse (malformed)            2. addressed to us? (not-for-me)
 *   3. lifetime and clock (expired / malformed)   4. topic = where it arrived (forged)
 *   5. sender keys known? (unknown-sender; a `learn` hook may supply verified keys)
 *   6. Ed25519 half (forged)        7. per-sender token bucket (rate-limited)
 *   8. ML-DSA-65 half (forged)      9. (sender, nonce) unseen (replayed / overloaded)
 *  10. open the seal (forged)
 * Only step 8 is expensive (~2.3 ms), and only a sender holding a valid Ed25519 key within its rate
 * gets there.
 */
import { verify as nodeVerify } from "node:crypto";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { ED25519_SIGNATURE_SIZE, type Identity, type PublicKeys } from "../anchor/identity.ts";
import { DropCounters, DropReason } from "./drops.ts";
import { type Envelope, EnvelopeKind, isBroadcast, parseEnvelope, SIGNATURE_CONTEXT } from "./envelope.ts";
import type { KeyDirectory } from "./key-directory.ts";
import { ReplayGuard } from "./replay-guard.ts";
import { open } from "./seal.ts";
import { TokenBucket } from "./token-bucket.ts";

/* Implementation constants */
export const MAX_LIFETIME_MS = 5 * 60_000;
export const MAX_CLOCK_SKEW_MS = 30_000;
export const DEFAULT_RECEIVE_RATE = Object.freeze({ perSecond: 20, burst: 40 });
const MAX_SENDER_BUCKETS = 10_000;

/** A message that passed every check. `body` is the plaintext (opened if it was sealed). */
export interface Accepted {
  readonly senderId: string;
  readonly sealed: boolean;
  readonly topic: string;
  readonly nonceHex: string;
  readonly issuedMs: number;
  readonly expiresMs: number;
  readonly body: Uint8Array;
}

/** Given the plaintext body of an envelope from an unknown sender, return its verified keys. */
export type LearnSender = (senderId: string, envelope: Envelope) => PublicKeys | undefined;

export interface InboundOptions {
  identity: Identity;
  directory: KeyDirectory;
  receiveRate?: { perSecond: number; burst: number };
  drops?: DropCounters;
  replay?: ReplayGuard;
  clock?: () => number;
}

export class Inbound {
  readonly drops: DropCounters;
  readonly #identity: Identity;
  readonly #myId: string;
  readonly #directory: KeyDirectory;
  readonly #replay: ReplayGuard;
  readonly #rate: { perSecond: number; burst: number };
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #clock: () => number;

  constructor(o: InboundOptions) {
    this.#identity = o.identity;
    this.#myId = Buffer.from(o.identity.nodeId).toString("hex");
    this.#directory = o.directory;
    this.#replay = o.replay ?? new ReplayGuard();
    this.#rate = o.receiveRate ?? DEFAULT_RECEIVE_RATE;
    this.drops = o.drops ?? new DropCounters();
    this.#clock = o.clock ?? Date.now;
  }

  /**
   * Runs every check on `bytes`, which arrived for `expectedTopic`. Returns the accepted message or
   * null (the reason is counted). `expectSender` pins the sender (replies to a request); `scope`
   * keeps replay state per subscription, so overlapping subscriptions each get their copy once.
   */
  accept(
    bytes: Uint8Array,
    expectedTopic: string,
    opts: { learn?: LearnSender; expectSender?: string; scope?: string } = {},
  ): Accepted | null {
    const env = parseEnvelope(bytes);
    if (!env) return this.#drop(DropReason.Malformed);
    const sealed = env.kind === EnvelopeKind.Sealed;
    if (sealed ? !this.#isMe(env.recipient) : !isBroadcast(env.recipient) && !this.#isMe(env.recipient)) {
      return this.#drop(DropReason.NotForMe);
    }
    const now = this.#clock();
    if (env.expiresMs <= env.issuedMs || env.expiresMs - env.issuedMs > MAX_LIFETIME_MS) {
      return this.#drop(DropReason.Malformed);
    }
    if (env.expiresMs <= now || env.issuedMs > now + MAX_CLOCK_SKEW_MS) return this.#drop(DropReason.Expired);
    if (env.topic !== expectedTopic) return this.#drop(DropReason.Forged);
    const senderId = Buffer.from(env.sender).toString("hex");
    if (opts.expectSender !== undefined && senderId !== opts.expectSender)
      return this.#drop(DropReason.Forged);
    let peer = this.#directory.get(senderId);
    // our own broadcast, delivered back by NATS to our subscription: not a drop worth counting (it
    // read as a steady trickle of unknown senders on every node)
    if (!peer && senderId === this.#myId) return null;
    if (!peer && opts.learn && !sealed) {
      const keys = safe(() => opts.learn?.(senderId, env));
      if (keys) {
        const added = this.#directory.add(keys);
        if (added.nodeIdHex !== senderId) {
          this.#directory.remove(added.nodeIdHex);
          return this.#drop(DropReason.Forged);
        }
        peer = added;
      }
    }
    if (!peer) return this.#drop(DropReason.UnknownSender);
    const framed = frame(env.signed);
    const sig = env.signature;
    if (!safe(() => nodeVerify(null, framed, peer.ed25519, sig.subarray(0, ED25519_SIGNATURE_SIZE)))) {
      return this.#drop(DropReason.Forged);
    }
    if (!this.#takeToken(senderId)) return this.#drop(DropReason.RateLimited);
    if (!safe(() => ml_dsa65.verify(sig.subarray(ED25519_SIGNATURE_SIZE), framed, peer.keys.mldsa65))) {
      return this.#drop(DropReason.Forged);
    }
    const nonceHex = Buffer.from(env.nonce).toString("hex");
    const verdict = this.#replay.check(`${opts.scope ?? ""}:${senderId}:${nonceHex}`, env.expiresMs, now);
    if (verdict === "replayed") return this.#drop(DropReason.Replayed);
    if (verdict === "full") return this.#drop(DropReason.Overloaded);
    let body = env.body;
    if (sealed) {
      const opened = open(this.#identity, env.body, env.header);
      if (!opened) return this.#drop(DropReason.Forged);
      body = opened;
    } else {
      body = Uint8Array.from(body); // own it: the receive buffer is borrowed
    }
    return {
      senderId,
      sealed,
      topic: env.topic,
      nonceHex,
      issuedMs: env.issuedMs,
      expiresMs: env.expiresMs,
      body,
    };
  }

  #isMe(recipient: Uint8Array): boolean {
    return Buffer.from(recipient).toString("hex") === this.#myId;
  }

  #takeToken(senderId: string): boolean {
    let b = this.#buckets.get(senderId);
    if (!b) {
      if (this.#buckets.size >= MAX_SENDER_BUCKETS) {
        for (const [k, v] of this.#buckets) if (v.isFull()) this.#buckets.delete(k);
        if (this.#buckets.size >= MAX_SENDER_BUCKETS) return false;
      }
      b = new TokenBucket(this.#rate.perSecond, this.#rate.burst);
      this.#buckets.set(senderId, b);
    }
    return b.take();
  }

  #drop(reason: DropReason): null {
    this.drops.count(reason);
    return null;
  }
}

/** The framing Identity.sign applies: len(context) | context | message. */
function frame(message: Uint8Array): Uint8Array {
  const ctx = new TextEncoder().encode(SIGNATURE_CONTEXT);
  const out = new Uint8Array(1 + ctx.length + message.length);
  out[0] = ctx.length;
  out.set(ctx, 1);
  out.set(message, 1 + ctx.length);
  return out;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
