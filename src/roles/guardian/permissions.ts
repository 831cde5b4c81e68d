/**
 * NATS permissions written into user JWTs. A node may publish only on its own subjects and reply
 * to requests; it may subscribe to what is addressed to it (its admin subject among them) and to
 * the realm's shared announcements. It can never publish on the Guardian's subjects.
 */
import type { Permissions } from "@nats-io/jwt";
import { ADMIN_SUBJECT_PREFIX, adminSubject, REVOCATIONS_SUBJECT } from "../../guardian-api/subjects.ts";
import { nodeSubjectGrants } from "./subject-grants.ts";

/** Replies to requests travel on _INBOX.>; responders need to publish there (research/nats.md §4). */
const INBOX = "_INBOX.>";

export function nodePermissions(_realm: string, nodeId: string): Permissions {
  const grants = nodeSubjectGrants(nodeId);
  return {
    pub: {
      allow: [...grants.publish, INBOX],
      deny: [`${ADMIN_SUBJECT_PREFIX}.>`, REVOCATIONS_SUBJECT],
    },
    sub: {
      allow: [...grants.subscribe, adminSubject(nodeId), REVOCATIONS_SUBJECT, INBOX],
      deny: [],
    },
  } as Permissions;
}

/** The Guardian's own user in a realm: admin requests and revocation lists, nothing else. */
export function guardianPermissions(): Permissions {
  return {
    pub: { allow: [`${ADMIN_SUBJECT_PREFIX}.>`, REVOCATIONS_SUBJECT], deny: [] },
    sub: { allow: [INBOX], deny: [] },
  } as Permissions;
}
