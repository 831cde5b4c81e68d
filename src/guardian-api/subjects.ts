/**
 * The NATS subjects of the Guardian's own traffic inside a realm account (realm = account, so the
 * realm never appears in a subject: isolation comes from the servers). Only the Guardian's user
 * may publish on them; node users may only subscribe to their own admin subject and the list.
 */

/* Specification constants */
export const ADMIN_SUBJECT_PREFIX = "veilnet.admin";
/** Signed revocation lists (src/anchor/revocation.ts encoding), published on every change. */
export const REVOCATIONS_SUBJECT = "veilnet.revocations";

/** Where the Guardian sends admin commands for `nodeId` (request/reply). */
export function adminSubject(nodeId: string): string {
  if (!/^[0-9a-f]{64}$/.test(nodeId)) throw new RangeError("node id must be 64 lowercase hex digits");
  return `${ADMIN_SUBJECT_PREFIX}.${nodeId}`;
}
