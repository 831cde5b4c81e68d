/**
 * A node's control channel: signed and sealed messages over a ControlConnection, with the sender
 * rate limit on the way out and the full check pipeline (inbound.ts) on the way in.
 *
 *   publish(subject, body)            signed broadcast (presence, health, revocations)
 *   send(peer, subject, body)         sealed to one node's certified keys (signalling)
 *   request(subject, body, {peer})    signed (sealed if peer given) request; the reply must be
 *                                     signed by the peer (if given) and bound to the request nonce
 *   subscribe(subject, handler)       handler gets only accepted messages; returning bytes replies
 */
import type { Msg } from "nats";
import type { Identity, PublicKeys } from "../anchor/identity.ts";
import type { ControlConnection } from "./connection.ts";
import type { DropCounters } from "./drops.ts";
import { DropReason } from "./drops.ts";
import { ControlError } from "./errors.ts";
import { type Accepted, Inbound, type LearnSender } from "./inbound.ts";
import { KeyDirectory, type PeerKeys } from "./key-directory.ts";
import { buildEnvelope, DEFAULT_TTL_MS } from "./outbound.ts";
import { replyTopic } from "./subjects.ts";
import { TokenBucket } from "./token-bucket.ts";

/* Implementation constants */
/** Steady-state control messages a node may send per second, and its burst. */
export const DEFAULT_SEND_RATE = Object.freeze({ perSecond: 10, burst: 20 });
/** How long publish() waits for a send token before failing with CONTROL_RATE_LIMITED. */
export const MAX_SEND_WAIT_MS = 2_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

export interface ControlChannelOptions {
  identity: Identity;
  connection: ControlConnection;
  /** Verified keys of peers; shared with the role (it adds keys after checking certificates). */
  directory?: KeyDirectory;
  sendRate?: { perSecond: number; burst: number };
  receiveRate?: { perSecond: number; burst: number };
  ttlMs?: number;
}

/** What a subscriber receives: an accepted message, and a way to answer it (if it was a request). */
export interface ControlMessage extends Accepted {
  readonly subject: string;
  readonly canReply: boolean;
}

/** Return (or resolve to) a Uint8Array to answer a request; any other value sends no reply. */
export type ControlHandler = (m: ControlMessage) => unknown;

export class ControlChannel {
  readonly identity: Identity;
  readonly nodeIdHex: string;
  readonly directory: KeyDirectory;
  readonly connection: ControlConnection;
  readonly #inbound: Inbound;
  readonly #bucket: TokenBucket;
  readonly #ttlMs: number;
  sent = 0;
  received = 0;
  #scopes = 0;

  constructor(o: ControlChannelOptions) {
    this.identity = o.identity;
    this.nodeIdHex = Buffer.from(o.identity.nodeId).toString("hex");
    this.connection = o.connection;
    this.directory = o.directory ?? new KeyDirectory();
    this.#inbound = new Inbound({
      identity: o.identity,
      directory: this.directory,
      ...(o.receiveRate ? { receiveRate: o.receiveRate } : {}),
    });
    const rate = o.sendRate ?? DEFAULT_SEND_RATE;
    this.#bucket = new TokenBucket(rate.perSecond, rate.burst);
    this.#ttlMs = o.ttlMs ?? DEFAULT_TTL_MS;
  }

  get drops(): DropCounters {
    return this.#inbound.drops;
  }

  /** Signed broadcast on `subject`. Waits for a send token (≤ MAX_SEND_WAIT_MS). */
  async publish(subject: string, body: Uint8Array): Promise<void> {
    await this.#token();
    const env = buildEnvelope(this.identity, { topic: subject, body, ttlMs: this.#ttlMs });
    this.connection.publish(subject, env.bytes);
    this.sent++;
  }

  /** Sealed point-to-point message to `peer` on `subject`. */
  async send(peer: PeerKeys | PublicKeys, subject: string, body: Uint8Array): Promise<void> {
    const p = this.#peer(peer);
    await this.#token();
    const env = buildEnvelope(this.identity, {
      topic: subject,
      body,
      ttlMs: this.#ttlMs,
      recipient: { nodeId: Buffer.from(p.nodeIdHex, "hex"), keys: p.keys },
    });
    this.connection.publish(subject, env.bytes);
    this.sent++;
  }

  /**
   * Request/reply. With `peer`, the request is sealed to it and the reply must come from it;
   * without, the request is signed and any known sender may answer (e.g. a Guardian queue).
   */
  async request(
    subject: string,
    body: Uint8Array,
    opts: { peer?: PeerKeys | PublicKeys; timeoutMs?: number; expectSender?: string } = {},
  ): Promise<ControlMessage> {
    const p = opts.peer ? this.#peer(opts.peer) : undefined;
    await this.#token();
    const env = buildEnvelope(this.identity, {
      topic: subject,
      body,
      ttlMs: this.#ttlMs,
      ...(p ? { recipient: { nodeId: Buffer.from(p.nodeIdHex, "hex"), keys: p.keys } } : {}),
    });
    this.sent++;
    const msg = await this.connection.request(
      subject,
      env.bytes,
      opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    );
    const topic = replyTopic(Buffer.from(env.nonce).toString("hex"));
    const expectSender = p?.nodeIdHex ?? opts.expectSender;
    const accepted = this.#inbound.accept(
      msg.data,
      topic,
      expectSender ? { expectSender, scope: "r" } : { scope: "r" },
    );
    if (!accepted) throw new ControlError("CONTROL_BAD_REPLY", `reply on ${subject} was dropped`);
    this.received++;
    return { ...accepted, subject: msg.subject, canReply: false };
  }

  /**
   * Delivers accepted messages on `subject` (wildcards allowed: the envelope topic must equal the
   * concrete subject it arrived on). A handler that returns bytes answers a request: the reply is
   * signed, bound to the request nonce, and sealed back if the request was sealed.
   */
  subscribe(
    subject: string,
    handler: ControlHandler,
    opts: { queue?: string; learn?: LearnSender } = {},
  ): () => void {
    const scope = `s${++this.#scopes}`;
    return this.connection.subscribe(
      subject,
      (msg) => this.#deliver(msg, handler, scope, opts.learn),
      opts.queue,
    );
  }

  #deliver(msg: Msg, handler: ControlHandler, scope: string, learn?: LearnSender): void {
    const accepted = this.#inbound.accept(msg.data, msg.subject, learn ? { learn, scope } : { scope });
    if (!accepted) return;
    this.received++;
    const m: ControlMessage = {
      ...accepted,
      subject: msg.subject,
      canReply: msg.reply !== undefined && msg.reply !== "",
    };
    void (async () => {
      const answer = await handler(m);
      if (answer instanceof Uint8Array && msg.reply) await this.#reply(msg.reply, accepted, answer);
    })().catch(() => this.drops.count(DropReason.HandlerError));
  }

  async #reply(inbox: string, req: Accepted, body: Uint8Array): Promise<void> {
    await this.#token();
    const peer = req.sealed ? this.directory.get(req.senderId) : undefined;
    const env = buildEnvelope(this.identity, {
      topic: replyTopic(req.nonceHex),
      body,
      ttlMs: this.#ttlMs,
      ...(peer
        ? { recipient: { nodeId: Buffer.from(peer.nodeIdHex, "hex"), keys: peer.keys } }
        : { recipientId: Buffer.from(req.senderId, "hex") }),
    });
    this.connection.publish(inbox, env.bytes);
    this.sent++;
  }

  async #token(): Promise<void> {
    const deadline = performance.now() + MAX_SEND_WAIT_MS;
    for (;;) {
      if (this.#bucket.take()) return;
      const wait = this.#bucket.waitMs();
      if (performance.now() + wait > deadline) {
        throw new ControlError("CONTROL_RATE_LIMITED", "control send rate exceeded");
      }
      await Bun.sleep(Math.max(1, Math.ceil(wait)));
    }
  }

  #peer(peer: PeerKeys | PublicKeys): PeerKeys {
    return "nodeIdHex" in peer ? peer : this.directory.add(peer);
  }
}
