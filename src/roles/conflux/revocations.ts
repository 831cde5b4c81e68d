/**
 * Revocation lists as they reach a node on Master (`Subjects.revocations`). Guardian publishes
 * them through its control channel, so each arrives inside a signed control envelope; the list
 * inside carries its own hybrid signature by the realm key, and that signature (checked by
 * `verifyRevocationList`, together with issuer and realm) is what the node trusts. A bare list is
 * accepted too. Replays of an older list change nothing (`RevocationSet.apply` keeps sequences
 * monotonic).
 */

import type { TrustedIssuers } from "../../anchor/issuer.ts";
import { type RevocationList, verifyRevocationList } from "../../anchor/revocation.ts";
import { EnvelopeKind, parseEnvelope, Subjects } from "../../control/index.ts";

/** The revocation list bytes in one message: the body of a signed envelope for the subject, else the message. */
export function revocationListBytes(data: Uint8Array): Uint8Array {
  const env = parseEnvelope(data);
  if (env && env.kind === EnvelopeKind.Signed && env.topic === Subjects.revocations) return env.body;
  return data;
}

/** Unwraps and verifies one message from `Subjects.revocations`; throws `RevocationListError`. */
export function verifyRevocationMessage(
  data: Uint8Array,
  opts: { realmKeys: TrustedIssuers; realm: string },
): RevocationList {
  return verifyRevocationList(revocationListBytes(data), opts);
}
