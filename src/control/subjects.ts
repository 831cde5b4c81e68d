/**
 * The control-plane subject scheme. A realm is a NATS account, so subjects carry no realm: the
 * servers already keep realms apart. Node ids are the 64-hex-digit SHA-256 node id (identity.ts).
 *
 *   vn.presence.<id>     signed broadcast: "I am here" + certificate + candidate summary
 *   vn.health.<id>       signed broadcast: summarised path/neighbour signals (routing hints)
 *   vn.signal.<id>       sealed to <id>: point-to-point signalling (endpoints, hole punching)
 *   vn.admin.<id>        sealed to <id>, from Guardian: admin command; the signed (sealed) result
 *                        is the reply, on the requester's inbox
 *   vn.revoke            signed by Guardian: revocations, honoured by every peer
 *   vn.guardian.<op>     node → Guardian requests (renewal, enrolment follow-ups); queue "guardian"
 *   _INBOX.<id>.>        each node's private reply inbox (connection option inboxPrefix)
 */
import type { Permissions } from "@nats-io/jwt";
import { ControlError } from "./errors.ts";

/* Specification constants */
export const SUBJECT_ROOT = "vn";
export const GUARDIAN_QUEUE = "guardian";
export const GUARDIAN_INBOX_ID = "guardian";
export const NODE_ID_HEX_LENGTH = 64;

export const Subjects = Object.freeze({
  presence: (id: string) => `${SUBJECT_ROOT}.presence.${checkId(id)}`,
  presenceAll: `${SUBJECT_ROOT}.presence.*`,
  health: (id: string) => `${SUBJECT_ROOT}.health.${checkId(id)}`,
  healthAll: `${SUBJECT_ROOT}.health.*`,
  signal: (id: string) => `${SUBJECT_ROOT}.signal.${checkId(id)}`,
  signalAll: `${SUBJECT_ROOT}.signal.*`,
  admin: (id: string) => `${SUBJECT_ROOT}.admin.${checkId(id)}`,
  adminAll: `${SUBJECT_ROOT}.admin.*`,
  revocations: `${SUBJECT_ROOT}.revoke`,
  guardian: (op: string) => `${SUBJECT_ROOT}.guardian.${checkToken(op)}`,
  guardianAll: `${SUBJECT_ROOT}.guardian.>`,
  inboxPrefix: (id: string) => `_INBOX.${id === GUARDIAN_INBOX_ID ? id : checkId(id)}`,
});

/** The reply topic bound into a reply's signature: ties it to one request (its nonce). */
export function replyTopic(requestNonceHex: string): string {
  return `reply.${requestNonceHex}`;
}

/**
 * NATS user permissions for a node (Guardian puts them in the node's user JWT): it may speak only
 * as itself on broadcast subjects, may signal anyone, may ask Guardian, and may listen only to
 * broadcasts, its own signalling/admin subjects and its own inbox. `resp` lets it answer requests.
 */
export function nodePermissions(nodeIdHex: string): Permissions {
  return {
    pub: {
      allow: [
        Subjects.presence(nodeIdHex),
        Subjects.health(nodeIdHex),
        Subjects.signalAll,
        Subjects.guardianAll,
      ],
    },
    sub: {
      allow: [
        Subjects.presenceAll,
        Subjects.healthAll,
        Subjects.signal(nodeIdHex),
        Subjects.admin(nodeIdHex),
        Subjects.revocations,
        `${Subjects.inboxPrefix(nodeIdHex)}.>`,
      ],
    },
    resp: { max: 1, ttl: 0 },
  };
}

/** NATS user permissions for Guardian within a realm account. */
export function guardianPermissions(): Permissions {
  return {
    pub: { allow: [Subjects.adminAll, Subjects.revocations, Subjects.signalAll] },
    sub: {
      allow: [
        Subjects.guardianAll,
        Subjects.presenceAll,
        Subjects.healthAll,
        `${Subjects.inboxPrefix(GUARDIAN_INBOX_ID)}.>`,
      ],
    },
    resp: { max: 1, ttl: 0 },
  };
}

function checkId(id: string): string {
  if (id.length !== NODE_ID_HEX_LENGTH || !/^[0-9a-f]+$/.test(id)) {
    throw new ControlError("CONTROL_BAD_ID", "node id must be 64 lowercase hex digits");
  }
  return id;
}

function checkToken(t: string): string {
  if (!/^[a-z0-9_-]{1,32}$/.test(t)) throw new ControlError("CONTROL_BAD_SUBJECT", "bad subject token");
  return t;
}
