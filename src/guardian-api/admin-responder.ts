/**
 * Node side of the admin protocol: verifies a Guardian command, refuses and logs what must be
 * refused, dispatches the rest to an AdminHandler, and signs every answer. Knows no NATS (see
 * admin-nats.ts) and no role: Conflux supplies the handler.
 */
import type { SigningKeys } from "../anchor/identity.ts";
import {
  ADMIN_CLOCK_SKEW_MS,
  ADMIN_COMMAND_CONTEXT,
  ADMIN_MAX_LIFETIME_MS,
  type AdminCommand,
  type AdminResult,
  AdminVerb,
  parseAdminCommand,
  signAdminResult,
} from "./admin-protocol.ts";
import { AdminProtocolError } from "./errors.ts";
import { MemoryReplayGuard, type ReplayGuard } from "./replay-guard.ts";
import { openUnverified, type SignedJson, type VerifyKeys, verifyOpened } from "./signed-json.ts";

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
  readonly code: string;
  readonly message: string;
  /** The command id when it could be read (even from an unverified command), else "". */
  readonly id: string;
  readonly verb: string;
  readonly at: number;
}

export interface AdminResponderOptions {
  /** This node's signing keys (signs answers) and its id (64 hex). */
  readonly node: SigningKeys;
  readonly nodeId: string;
  readonly realm: string;
  /** The Guardian's verification keys (from the enrolment Credentials). */
  readonly guardian: VerifyKeys;
  readonly handler: AdminHandler;
  readonly replay?: ReplayGuard;
  readonly now?: () => number;
  /** Called for every refused command (replayed, expired, forged, misaddressed, malformed). */
  readonly onRefused?: (refusal: AdminRefusal) => void;
  /** Called after every executed command. */
  readonly onExecuted?: (command: AdminCommand, result: AdminResult) => void;
}

export class AdminResponder {
  readonly #o: AdminResponderOptions;
  readonly #replay: ReplayGuard;
  readonly #now: () => number;
  constructor(options: AdminResponderOptions) {
    this.#o = options;
    this.#replay = options.replay ?? new MemoryReplayGuard();
    this.#now = options.now ?? Date.now;
  }

  /** Raw request bytes (JSON SignedJson) in, raw answer bytes out. Never throws. */
  async handleBytes(data: Uint8Array): Promise<Uint8Array> {
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(data));
    } catch {
      body = undefined;
    }
    return new TextEncoder().encode(JSON.stringify(await this.handle(body)));
  }

  /** A parsed SignedJson command in, a signed answer out. Never throws. */
  async handle(body: unknown): Promise<SignedJson> {
    const now = this.#now();
    let command: AdminCommand;
    let peekId = "";
    let peekVerb = "";
    try {
      const opened = openUnverified(body);
      const peek = opened.value as { id?: unknown; verb?: unknown } | null;
      if (typeof peek?.id === "string" && /^[0-9a-f]{32}$/.test(peek.id)) peekId = peek.id;
      if (typeof peek?.verb === "string") peekVerb = peek.verb.slice(0, 32);
      if (!verifyOpened(opened, ADMIN_COMMAND_CONTEXT, this.#o.guardian)) {
        throw new AdminProtocolError("ADMIN_BAD_SIGNATURE", "the command is not signed by the Guardian");
      }
      command = parseAdminCommand(opened.value);
      this.#check(command, now);
    } catch (err) {
      const code = err instanceof AdminProtocolError ? err.code : "ADMIN_BAD_ENVELOPE";
      const message = err instanceof Error ? err.message : String(err);
      return this.#refuse({ code, message, id: peekId, verb: peekVerb, at: now });
    }
    let result: AdminResult;
    try {
      const out = await this.#dispatch(command);
      result = {
        v: 1,
        type: "admin.result",
        id: command.id,
        node: this.#o.nodeId,
        ok: true,
        result: out,
        at: this.#now(),
      };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      result = {
        v: 1,
        type: "admin.result",
        id: command.id,
        node: this.#o.nodeId,
        ok: false,
        error: { code: "ADMIN_HANDLER_FAILED", message },
        at: this.#now(),
      };
    }
    this.#o.onExecuted?.(command, result);
    return signAdminResult(this.#o.node, result);
  }

  #check(c: AdminCommand, now: number): void {
    if (c.target !== this.#o.nodeId || c.realm !== this.#o.realm) {
      throw new AdminProtocolError("ADMIN_WRONG_TARGET", "the command is addressed to another node");
    }
    if (c.expiresAt <= now) throw new AdminProtocolError("ADMIN_EXPIRED", "the command has expired");
    if (c.issuedAt > now + ADMIN_CLOCK_SKEW_MS) {
      throw new AdminProtocolError("ADMIN_FROM_FUTURE", "the command is issued in the future");
    }
    if (c.expiresAt - c.issuedAt > ADMIN_MAX_LIFETIME_MS || c.expiresAt < c.issuedAt) {
      throw new AdminProtocolError("ADMIN_LIFETIME", "the command's lifetime is out of bounds");
    }
    if (!this.#replay.admit(c.id, c.expiresAt + ADMIN_CLOCK_SKEW_MS, now)) {
      throw new AdminProtocolError("ADMIN_REPLAYED", "the command has been seen before");
    }
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

  #refuse(r: AdminRefusal): SignedJson {
    this.#o.onRefused?.(r);
    const result: AdminResult = {
      v: 1,
      type: "admin.result",
      id: r.id,
      node: this.#o.nodeId,
      ok: false,
      error: { code: r.code, message: r.message },
      at: r.at,
    };
    return signAdminResult(this.#o.node, result);
  }
}

function requireTaint(c: AdminCommand): string {
  if (!c.args.taint) throw new Error("this command needs a taint");
  return c.args.taint;
}
