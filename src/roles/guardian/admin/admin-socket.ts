/**
 * The running Guardian's admin socket. `veilnet admin <node command>` hands the command to the
 * Guardian daemon — keys loaded, Master link open, code warm — instead of opening the state and
 * connecting to Master itself, which costs seconds before the command even leaves (measured on a
 * loaded 2-core machine: process 2 s, state 1.5–3 s, Master connection 1.3–1.7 s). When no
 * Guardian runs, the CLI does it all itself as before.
 *
 * A Unix socket in the Guardian state directory, 0600: whoever may use it may read the Guardian's
 * keys anyway. One JSON request per line (see control/local-control.ts):
 *   {"cmd":"admin","verb":"quarantine","target":"9c39ec02","args":{"reason":"…"},"timeoutMs":5000}
 * → {"ok":true,"result":<AdminOutcome>}. Requests are parsed field by field; anything else is refused.
 *
 * Light on purpose: the CLI imports this before it knows whether it needs the heavy direct path.
 */
import { join } from "node:path";
import { LocalControlError, type LocalHandler, requestLocal } from "../../../control/local-control.ts";
import {
  type AdminArgs,
  type AdminVerb,
  isAdminVerb,
  parseAdminArgs,
} from "../../../guardian-api/admin-protocol.ts";
import { AdminProtocolError } from "../../../guardian-api/errors.ts";
import type { AdminOutcome } from "./actions.ts";

/** The socket's file name in the Guardian state directory. */
export const GUARDIAN_ADMIN_SOCKET = "admin.sock";
/** Longest wait for a node's answer a request may ask for. */
export const MAX_ADMIN_TIMEOUT_MS = 60_000;
/** What the socket adds to the node's own timeout before the client gives up. */
const SOCKET_SLACK_MS = 2_000;

export interface AdminRequest {
  readonly verb: AdminVerb;
  /** Node id, unique id prefix or overlay IPv6 (resolved by the Guardian). */
  readonly target: string;
  readonly args: AdminArgs;
  readonly timeoutMs: number;
}

export function adminSocketPath(stateDir: string): string {
  return join(stateDir, GUARDIAN_ADMIN_SOCKET);
}

/** Checks a request that came in on the socket. Throws AdminProtocolError with a one-line reason. */
export function parseAdminRequest(o: Record<string, unknown>): AdminRequest {
  if (typeof o.verb !== "string" || !isAdminVerb(o.verb)) throw badRequest("unknown admin verb");
  if (typeof o.target !== "string" || o.target.length === 0 || o.target.length > 128) {
    throw badRequest("target must be a node id, id prefix or overlay IPv6");
  }
  const timeoutMs = o.timeoutMs;
  if (
    typeof timeoutMs !== "number" ||
    !Number.isInteger(timeoutMs) ||
    timeoutMs < 1 ||
    timeoutMs > MAX_ADMIN_TIMEOUT_MS
  ) {
    throw badRequest(`timeoutMs must be an integer in 1..${MAX_ADMIN_TIMEOUT_MS}`);
  }
  return { verb: o.verb, target: o.target, args: parseAdminArgs(o.args ?? {}), timeoutMs };
}

function badRequest(message: string): AdminProtocolError {
  return new AdminProtocolError("ADMIN_BAD_REQUEST", message);
}

/** The daemon's side: the socket's one command, which runs `run` on a checked request. */
export function adminSocketHandlers(
  run: (r: AdminRequest) => Promise<AdminOutcome>,
): Record<string, LocalHandler> {
  return { admin: (args) => run(parseAdminRequest(args)) };
}

/**
 * The CLI's side: the outcome from the running Guardian, or undefined when none listens on
 * `stateDir` (then the caller does the work itself). Other failures (refused request, timeout)
 * throw: the Guardian may have sent the command, so doing it again could act twice.
 */
export async function adminViaGuardian(stateDir: string, r: AdminRequest): Promise<AdminOutcome | undefined> {
  try {
    return (await requestLocal(
      adminSocketPath(stateDir),
      "admin",
      { verb: r.verb, target: r.target, args: r.args, timeoutMs: r.timeoutMs },
      r.timeoutMs + SOCKET_SLACK_MS,
    )) as AdminOutcome;
  } catch (err) {
    if (err instanceof LocalControlError && err.code === "LOCAL_NO_NODE") return undefined;
    throw err;
  }
}
