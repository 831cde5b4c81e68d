/**
 * Admin commands: Guardian → node through Master, answered node → Guardian.
 *
 * A command is SignedJson<AdminCommand> signed by the Guardian's hybrid key under ADMIN_COMMAND_CONTEXT;
 * it names its target node and realm, carries a random 128-bit id (the nonce) and an expiry. The
 * node refuses a command that is not for it, expired, too long-lived, from the future, replayed
 * (same id seen before its expiry), or not signed by the Guardian, and logs the refusal.
 * Every answer, refusals included, is SignedJson<AdminResult> signed by the node under
 * ADMIN_RESULT_CONTEXT and echoes the command id, so the Guardian can tell it apart from a replay.
 */
import { randomBytes } from "node:crypto";
import { TAINT_PATTERN } from "../anchor/certificate.ts";
import type { SigningKeys } from "../anchor/identity.ts";
import { AdminProtocolError } from "./errors.ts";
import { openUnverified, type SignedJson, signJson, type VerifyKeys, verifyOpened } from "./signed-json.ts";

/* Specification constants */
export const ADMIN_COMMAND_CONTEXT = "veilnet admin command v1";
export const ADMIN_RESULT_CONTEXT = "veilnet admin result v1";
/** A command may live at most this long (expiresAt − issuedAt); it bounds the replay cache. */
export const ADMIN_MAX_LIFETIME_MS = 5 * 60_000;
/** Tolerated clock difference between Guardian and node. */
export const ADMIN_CLOCK_SKEW_MS = 30_000;
export const ADMIN_DEFAULT_LIFETIME_MS = 30_000;

export const AdminVerb = {
  Query: "query",
  Taint: "taint",
  Untaint: "untaint",
  Quarantine: "quarantine",
  Release: "release",
  Invalidate: "invalidate",
  Revoke: "revoke",
  Shutdown: "shutdown",
} as const;
export type AdminVerb = (typeof AdminVerb)[keyof typeof AdminVerb];
const VERBS = new Set<string>(Object.values(AdminVerb));

export interface AdminArgs {
  /** taint / untaint */
  readonly taint?: string;
  /** shutdown: stop at once (hard) rather than draining (graceful) */
  readonly hard?: boolean;
  /** revoke / quarantine: a human reason for logs */
  readonly reason?: string;
}

export interface AdminCommand {
  readonly v: 1;
  readonly type: "admin.command";
  readonly id: string;
  readonly verb: AdminVerb;
  readonly args: AdminArgs;
  readonly target: string;
  readonly realm: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export interface AdminResult {
  readonly v: 1;
  readonly type: "admin.result";
  /** The command id, or "" when the command could not be parsed at all. */
  readonly id: string;
  readonly node: string;
  readonly ok: boolean;
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly code: string; readonly message: string };
  readonly at: number;
}

export function newAdminCommand(
  verb: AdminVerb,
  target: { nodeId: string; realm: string },
  args: AdminArgs = {},
  now = Date.now(),
  lifetimeMs = ADMIN_DEFAULT_LIFETIME_MS,
): AdminCommand {
  return {
    v: 1,
    type: "admin.command",
    id: randomBytes(16).toString("hex"),
    verb,
    args,
    target: target.nodeId,
    realm: target.realm,
    issuedAt: now,
    expiresAt: now + lifetimeMs,
  };
}

export function signAdminCommand(guardian: SigningKeys, command: AdminCommand): SignedJson {
  return signJson(guardian, ADMIN_COMMAND_CONTEXT, command);
}

export function signAdminResult(node: SigningKeys, result: AdminResult): SignedJson {
  return signJson(node, ADMIN_RESULT_CONTEXT, result);
}

/** Shape check of a command (no signature, no time checks: see AdminResponder). */
export function parseAdminCommand(value: unknown): AdminCommand {
  const o = obj(value);
  if (o.v !== 1 || o.type !== "admin.command") throw shape("not an admin command of version 1");
  if (typeof o.id !== "string" || !/^[0-9a-f]{32}$/.test(o.id)) throw shape("id must be 32 hex digits");
  if (typeof o.verb !== "string" || !VERBS.has(o.verb)) throw shape("unknown verb");
  if (typeof o.target !== "string" || !/^[0-9a-f]{64}$/.test(o.target)) throw shape("bad target");
  if (typeof o.realm !== "string" || o.realm.length === 0 || o.realm.length > 64) throw shape("bad realm");
  if (!Number.isSafeInteger(o.issuedAt) || !Number.isSafeInteger(o.expiresAt)) throw shape("bad times");
  const a = obj(o.args);
  const args: { taint?: string; hard?: boolean; reason?: string } = {};
  if (a.taint !== undefined) {
    if (typeof a.taint !== "string" || !TAINT_PATTERN.test(a.taint)) throw shape("bad taint");
    args.taint = a.taint;
  }
  if (a.hard !== undefined) {
    if (typeof a.hard !== "boolean") throw shape("hard must be a boolean");
    args.hard = a.hard;
  }
  if (a.reason !== undefined) {
    if (typeof a.reason !== "string" || a.reason.length > 256) throw shape("bad reason");
    args.reason = a.reason;
  }
  return {
    v: 1,
    type: "admin.command",
    id: o.id,
    verb: o.verb as AdminVerb,
    args,
    target: o.target,
    realm: o.realm,
    issuedAt: o.issuedAt as number,
    expiresAt: o.expiresAt as number,
  };
}

/**
 * Guardian side: verifies a node's answer to `command` with the node's enrolled keys.
 * Throws AdminProtocolError on a bad signature, another node, or another command id.
 */
export function verifyAdminResult(body: unknown, command: AdminCommand, nodeKeys: VerifyKeys): AdminResult {
  const opened = openUnverified(body);
  if (!verifyOpened(opened, ADMIN_RESULT_CONTEXT, nodeKeys)) {
    throw new AdminProtocolError("ADMIN_RESULT_SIGNATURE", "the answer is not signed by the target node");
  }
  const o = obj(opened.value);
  if (o.v !== 1 || o.type !== "admin.result" || typeof o.ok !== "boolean") throw shape("not an admin result");
  if (o.node !== command.target)
    throw new AdminProtocolError("ADMIN_RESULT_NODE", "answer from another node");
  if (o.id !== command.id) throw new AdminProtocolError("ADMIN_RESULT_ID", "answer to another command");
  const result: AdminResult = {
    v: 1,
    type: "admin.result",
    id: o.id,
    node: o.node,
    ok: o.ok,
    at: Number(o.at),
    ...(o.result !== undefined ? { result: obj(o.result) } : {}),
    ...(o.error !== undefined ? { error: errorOf(o.error) } : {}),
  };
  return result;
}

function errorOf(v: unknown): { code: string; message: string } {
  const e = obj(v);
  return { code: String(e.code ?? ""), message: String(e.message ?? "") };
}
function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw shape("expected a JSON object");
  return v as Record<string, unknown>;
}
function shape(message: string): AdminProtocolError {
  return new AdminProtocolError("ADMIN_BAD_SHAPE", message);
}
