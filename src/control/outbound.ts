/** Building control messages: signed broadcasts and sealed point-to-point envelopes. */
import { randomBytes } from "node:crypto";
import type { Identity, PublicKeys } from "../anchor/identity.ts";
import {
  assembleEnvelope,
  BROADCAST,
  EnvelopeKind,
  encodeHeader,
  encodeSignedRegion,
  NONCE_SIZE,
  SIGNATURE_CONTEXT,
} from "./envelope.ts";
import { seal } from "./seal.ts";

/* Implementation constants */
/** Default lifetime of a control message; receivers refuse more than MAX_LIFETIME_MS. */
export const DEFAULT_TTL_MS = 30_000;

export interface OutboundOptions {
  readonly topic: string;
  readonly body: Uint8Array;
  readonly ttlMs?: number;
  /** Set for a sealed point-to-point message: the recipient's certified public keys and id. */
  readonly recipient?: { readonly nodeId: Uint8Array; readonly keys: PublicKeys };
  /** Address a signed (unsealed) message to one node without sealing it. */
  readonly recipientId?: Uint8Array;
  readonly nowMs?: number;
}

export interface Outbound {
  readonly bytes: Uint8Array;
  readonly nonce: Uint8Array;
}

/** Builds and signs one envelope with `identity`. Costs one ML-DSA-65 signature (~13 ms here). */
export function buildEnvelope(identity: Identity, o: OutboundOptions): Outbound {
  const now = o.nowMs ?? Date.now();
  const nonce = new Uint8Array(randomBytes(NONCE_SIZE));
  const header = encodeHeader({
    kind: o.recipient ? EnvelopeKind.Sealed : EnvelopeKind.Signed,
    sender: identity.nodeId,
    recipient: o.recipient?.nodeId ?? o.recipientId ?? BROADCAST,
    nonce,
    issuedMs: now,
    expiresMs: now + (o.ttlMs ?? DEFAULT_TTL_MS),
    topic: o.topic,
  });
  const body = o.recipient ? seal(o.recipient.keys, o.body, header) : o.body;
  const signed = encodeSignedRegion(header, body);
  return { bytes: assembleEnvelope(signed, identity.sign(signed, SIGNATURE_CONTEXT)), nonce };
}
