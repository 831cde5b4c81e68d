/**
 * Admin actions on the Guardian host. Each one records the Guardian's side (taints, status,
 * revocation) in the database, sends the node a signed command through Master, verifies the
 * node's signed answer, and writes the outcome to the audit log.
 */

import { Subjects } from "../../../control/index.ts";
import {
  ADMIN_COMMAND_TTL_MS,
  type AdminArgs,
  type AdminCommand,
  type AdminResult,
  AdminVerb,
  encodeBody,
  parseAdminResult,
} from "../../../guardian-api/admin-protocol.ts";
import type { Authority } from "../authority.ts";
import { parseTaints } from "../enrol.ts";
import { GuardianError } from "../errors.ts";
import type { ControlLink } from "../nats/control-link.ts";
import { type NodeRecord, NodeStatus } from "../store/records.ts";

import { ADMIN_TIMEOUT_MS } from "./cli-args.ts";

export interface AdminOutcome {
  readonly node: string;
  readonly verb: AdminVerb;
  /** The node's verified answer, or undefined when it could not be reached. */
  readonly answer?: AdminResult;
  /** Why the node could not be reached or its answer was rejected. */
  readonly failure?: { readonly code: string; readonly message: string };
  readonly rttMs: number;
}

/**
 * Sends one command, sealed to the node's enrolled keys, and returns its answer (the control
 * channel has checked that the reply is signed by that node and bound to this request).
 */
export async function sendAdminCommand(
  link: ControlLink,
  node: NodeRecord,
  verb: AdminVerb,
  args: AdminArgs = {},
  timeoutMs = ADMIN_TIMEOUT_MS,
): Promise<{ command: AdminCommand; answer: AdminResult; rttMs: number }> {
  const command: AdminCommand = {
    v: 1,
    type: "admin.command",
    verb,
    args,
    target: node.id,
    realm: node.realm,
  };
  const channel = await link.realmChannel(node.realm);
  const t0 = performance.now();
  const reply = await channel.request(Subjects.admin(node.id), encodeBody(command), {
    peer: node.publicKeys,
    timeoutMs: Math.min(timeoutMs, ADMIN_COMMAND_TTL_MS),
  });
  const rttMs = performance.now() - t0;
  const answer = parseAdminResult(reply.body);
  if (answer.node !== node.id)
    throw new GuardianError("ADMIN_ANSWER_NODE", "the answer names another node", 502);
  return { command, answer, rttMs };
}

/** Runs `verb` on the node named by `ref` (id, unique id prefix, or overlay IPv6). */
export async function runAdmin(
  a: Authority,
  link: ControlLink,
  verb: AdminVerb,
  ref: string,
  args: AdminArgs = {},
  actor = "admin",
  timeoutMs = ADMIN_TIMEOUT_MS,
): Promise<AdminOutcome> {
  const node = a.store.findNode(ref);
  if (!node) throw new GuardianError("NODE_UNKNOWN", `no node matches '${ref}'`, 404);
  const now = Date.now();
  const store = a.store;
  switch (verb) {
    case AdminVerb.Taint:
    case AdminVerb.Untaint: {
      const taint = parseTaints([args.taint ?? ""])[0];
      if (!taint) throw new GuardianError("TAINT_BAD", "a taint is required");
      const next =
        verb === AdminVerb.Taint ? [...node.taints, taint] : node.taints.filter((t) => t !== taint);
      store.setTaints(node.id, parseTaints(next), actor, now);
      break;
    }
    case AdminVerb.Quarantine:
      store.setStatus(node.id, NodeStatus.Quarantined, actor, now);
      break;
    case AdminVerb.Release:
      store.setStatus(node.id, NodeStatus.Active, actor, now);
      break;
    default:
      break;
  }
  let outcome: AdminOutcome;
  try {
    const { answer, rttMs } = await sendAdminCommand(link, node, verb, args, timeoutMs);
    outcome = { node: node.id, verb, answer, rttMs };
  } catch (err) {
    const code =
      err instanceof Error && "code" in err ? String((err as { code: unknown }).code) : "ADMIN_SEND";
    const message = err instanceof Error ? err.message : String(err);
    outcome = { node: node.id, verb, failure: { code, message }, rttMs: 0 };
  }
  if (verb === AdminVerb.Revoke) {
    // The node was told first (while it could still hear); now the servers shut it out.
    store.revoke(node.id, args.reason ?? "revoked by admin", actor, Date.now());
    await link.pushRealm(node.realm);
    await link.publishRevocations(node.realm);
  }
  const result = outcome.answer
    ? outcome.answer.ok
      ? "ok"
      : (outcome.answer.error?.code ?? "refused")
    : "unreachable";
  store.audit(
    actor,
    `admin.${verb}`,
    node.id,
    result,
    { args, rttMs: Math.round(outcome.rttMs * 1000) / 1000, failure: outcome.failure },
    Date.now(),
  );
  return outcome;
}
