/**
 * Node side of the admin protocol: listens on `vn.admin.<own id>`, lets the control Inbound refuse
 * forged, expired, replayed and misaddressed envelopes, refuses commands not from the Guardian or
 * not meant for this node/realm, dispatches the rest to an AdminHandler, and answers with a reply
 * signed by the node and sealed to the Guardian. Every refusal is reported to `onRefused` (a
 * refused envelope gets no answer: the sender cannot be trusted with one).
 */
import { type Identity, nodeIdOf, type PublicKeys } from "../anchor/identity.ts";
import {
  buildEnvelope,
  type ControlConnection,
  DropCounters,
  type DropReason,
  Inbound,
  KeyDirectory,
  replyTopic,
  Subjects,
} from "../control/index.ts";
import {
  ADMIN_COMMAND_TTL_MS,
  type AdminCommand,
  type AdminResult,
  AdminVerb,
  encodeBody,
  parseAdminCommand,
} from "./admin-protocol.ts";

/* Implementation constants */
/** Admin commands a node accepts per second from the Guardian (burst twice that). */
export const ADMIN_RECEIVE_RATE = Object.freeze({ perSecond: 200, burst: 400 });

type Json = Record<string, unknown>;
type Maybe<T> = T | Promise<T>;

/**
 * What a node does for each command. Each method returns a JSON object for the answer, or throws
 * (the answer then carries ADMIN_HANDLER_FAILED and the message). `shutdown` and `revoke` must
 * return before the node stops, so the signed answer still goes out: schedule the stop.
 */
export interface AdminHandler {
  /** Local state: interfaces, routes, peers/sessions, health. */
  query(): Maybe<Json>;
  taint(taint: string): Maybe<Json>;
  untaint(taint: string): Maybe<Json>;
  /** Stop forwarding for others and accept no new sessions until released. */
  quarantine(reason: string | undefined): Maybe<Json>;
  release(): Maybe<Json>;
  /** Drop session keys and cached credentials; re-handshake / re-enrol. */
  invalidate(): Maybe<Json>;
  /** This identity is revoked: tear everything down and do not come back. */
  revoke(reason: string | undefined): Maybe<Json>;
  shutdown(hard: boolean): Maybe<Json>;
}

export interface AdminRefusal {
  /** A control DropReason (forged, expired, replayed, not-for-me, …) or an ADMIN_* code. */
  readonly reason: DropReason | string;
  readonly message: string;
  readonly at: number;
}

export interface AdminResponderOptions {
  readonly identity: Identity;
  readonly realm: string;
  /** The Guardian's public keys (Credentials.guardian). */
  readonly guardian: PublicKeys;
  readonly connection: ControlConnection;
  readonly handler: AdminHandler;
  readonly onRefused?: (refusal: AdminRefusal) => void;
  readonly onExecuted?: (command: AdminCommand, result: AdminResult) => void;
  readonly clock?: () => number;
}

/** DropCounters that also remember the last reason, so a refusal can be logged with it. */
class RecordingDrops extends DropCounters {
  last: DropReason | undefined;
  override count(reason: DropReason): void {
    super.count(reason);
    this.last = reason;
  }
}

export class AdminResponder {
  readonly nodeId: string;
  readonly guardianId: string;
  readonly drops: DropCounters;
  executed = 0;
  refused = 0;
  readonly #o: AdminResponderOptions;
  readonly #inbound: Inbound;
  readonly #recording: RecordingDrops;
  #unsubscribe: (() => void) | undefined;

  constructor(o: AdminResponderOptions) {
    this.#o = o;
    this.nodeId = Buffer.from(o.identity.nodeId).toString("hex");
    this.guardianId = Buffer.from(nodeIdOf(o.guardian)).toString("hex");
    const directory = new KeyDirectory();
    directory.add(o.guardian);
    this.#recording = new RecordingDrops();
    this.drops = this.#recording;
    this.#inbound = new Inbound({
      identity: o.identity,
      directory,
      drops: this.#recording,
      receiveRate: ADMIN_RECEIVE_RATE,
      ...(o.clock ? { clock: o.clock } : {}),
    });
  }

  get subject(): string {
    return Subjects.admin(this.nodeId);
  }

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.#o.connection.subscribe(this.subject, (msg) => {
      void this.handle(msg.data, msg.subject, msg.reply);
    });
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Checks and runs one received message; answers on `reply`. Never throws. */
  async handle(data: Uint8Array, subject: string, reply: string | undefined): Promise<void> {
    const now = (this.#o.clock ?? Date.now)();
    this.#recording.last = undefined;
    const accepted = this.#inbound.accept(data, subject);
    if (!accepted) {
      this.#refuse(this.#recording.last ?? "dropped", "the control envelope was refused", now);
      return;
    }
    let result: AdminResult;
    let command: AdminCommand | undefined;
    try {
      if (accepted.senderId !== this.guardianId || !accepted.sealed) {
        throw refusal("ADMIN_NOT_GUARDIAN", "admin commands come only from the Guardian, sealed");
      }
      command = parseAdminCommand(accepted.body);
      if (command.target !== this.nodeId || command.realm !== this.#o.realm) {
        throw refusal("ADMIN_WRONG_TARGET", "the command is meant for another node or realm");
      }
    } catch (err) {
      const code = (err as { code?: string }).code ?? "ADMIN_BAD_SHAPE";
      const message = err instanceof Error ? err.message : String(err);
      this.#refuse(code, message, now);
      if (accepted.senderId !== this.guardianId) return;
      result = {
        v: 1,
        type: "admin.result",
        node: this.nodeId,
        verb: AdminVerb.Query,
        ok: false,
        error: { code, message },
      };
      this.#answer(reply, accepted.nonceHex, result);
      return;
    }
    try {
      const out = await this.#dispatch(command);
      result = { v: 1, type: "admin.result", node: this.nodeId, verb: command.verb, ok: true, result: out };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      result = {
        v: 1,
        type: "admin.result",
        node: this.nodeId,
        verb: command.verb,
        ok: false,
        error: { code: "ADMIN_HANDLER_FAILED", message },
      };
    }
    this.executed++;
    this.#answer(reply, accepted.nonceHex, result);
    this.#o.onExecuted?.(command, result);
  }

  #answer(reply: string | undefined, nonceHex: string, result: AdminResult): void {
    if (!reply) return;
    const env = buildEnvelope(this.#o.identity, {
      topic: replyTopic(nonceHex),
      body: encodeBody(result),
      ttlMs: ADMIN_COMMAND_TTL_MS,
      recipient: { nodeId: nodeIdOf(this.#o.guardian), keys: this.#o.guardian },
    });
    this.#o.connection.publish(reply, env.bytes);
  }

  #refuse(reason: string, message: string, at: number): void {
    this.refused++;
    this.#o.onRefused?.({ reason, message, at });
  }

  async #dispatch(c: AdminCommand): Promise<Json> {
    const h = this.#o.handler;
    switch (c.verb) {
      case AdminVerb.Query:
        return h.query();
      case AdminVerb.Taint:
        return h.taint(requireTaint(c));
      case AdminVerb.Untaint:
        return h.untaint(requireTaint(c));
      case AdminVerb.Quarantine:
        return h.quarantine(c.args.reason);
      case AdminVerb.Release:
        return h.release();
      case AdminVerb.Invalidate:
        return h.invalidate();
      case AdminVerb.Revoke:
        return h.revoke(c.args.reason);
      case AdminVerb.Shutdown:
        return h.shutdown(c.args.hard === true);
    }
  }
}

function requireTaint(c: AdminCommand): string {
  if (!c.args.taint) throw new Error("this command needs a taint");
  return c.args.taint;
}

function refusal(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}
