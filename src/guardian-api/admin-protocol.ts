/**
 * Admin commands: Guardian → node through Master, answered node → Guardian.
 *
 * Transport: control envelopes (src/control). A command is a request on `vn.admin.<node id>`
 * sealed to the node and signed by the Guardian's hybrid identity; the envelope carries the random
 * nonce, the issue time, the expiry and the subject (so it cannot be replayed, kept, or moved to
 * another node), and the receiver's Inbound refuses forged, expired, replayed or misaddressed ones.
 * The answer is the request's reply: signed by the node, bound to the request nonce, sealed back.
 * This file holds the bodies inside those envelopes: JSON, version 1.
 */
import { TAINT_PATTERN } from "../anchor/certificate.ts";
import { AdminProtocolError } from "./errors.ts";

/* Specification constants */
export const ADMIN_BODY_VERSION = 1;
/** Lifetime of an admin command envelope (receivers accept at most 5 minutes). */
export const ADMIN_COMMAND_TTL_MS = 30_000;

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
  readonly verb: AdminVerb;
  readonly args: AdminArgs;
  /** Node id (64 hex) and realm the Guardian means; checked again by the node. */
  readonly target: string;
  readonly realm: string;
}

export interface AdminResult {
  readonly v: 1;
  readonly type: "admin.result";
  readonly node: string;
  readonly verb: AdminVerb;
  readonly ok: boolean;
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly code: string; readonly message: string };
}

export function encodeBody(value: AdminCommand | AdminResult): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function parseAdminCommand(bytes: Uint8Array): AdminCommand {
  const o = obj(json(bytes));
  if (o.v !== ADMIN_BODY_VERSION || o.type !== "admin.command")
    throw shape("not an admin command of version 1");
  if (typeof o.verb !== "string" || !VERBS.has(o.verb)) throw shape("unknown verb");
  if (typeof o.target !== "string" || !/^[0-9a-f]{64}$/.test(o.target)) throw shape("bad target");
  if (typeof o.realm !== "string" || o.realm.length === 0 || o.realm.length > 64) throw shape("bad realm");
  const args = parseAdminArgs(o.args);
  return { v: 1, type: "admin.command", verb: o.verb as AdminVerb, args, target: o.target, realm: o.realm };
}

/** A command's arguments, checked field by field (unknown fields are ignored). */
export function parseAdminArgs(v: unknown): AdminArgs {
  const a = obj(v);
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
  return args;
}

/** Whether `verb` names an admin command. */
export function isAdminVerb(verb: string): verb is AdminVerb {
  return VERBS.has(verb);
}

export function parseAdminResult(bytes: Uint8Array): AdminResult {
  const o = obj(json(bytes));
  if (o.v !== ADMIN_BODY_VERSION || o.type !== "admin.result" || typeof o.ok !== "boolean") {
    throw shape("not an admin result of version 1");
  }
  if (typeof o.node !== "string" || typeof o.verb !== "string" || !VERBS.has(o.verb))
    throw shape("bad result");
  const out: AdminResult = {
    v: 1,
    type: "admin.result",
    node: o.node,
    verb: o.verb as AdminVerb,
    ok: o.ok,
    ...(o.result !== undefined ? { result: obj(o.result) } : {}),
    ...(o.error !== undefined ? { error: errorOf(o.error) } : {}),
  };
  return out;
}

function json(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw shape("body is not JSON");
  }
}
function errorOf(v: unknown): { code: string; message: string } {
  const e = obj(v);
  return { code: String(e.code ?? "").slice(0, 64), message: String(e.message ?? "").slice(0, 512) };
}
function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw shape("expected a JSON object");
  return v as Record<string, unknown>;
}
function shape(message: string): AdminProtocolError {
  return new AdminProtocolError("ADMIN_BAD_SHAPE", message);
}
