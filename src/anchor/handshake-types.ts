/**
 * Shared types and timers of the handshake state machines. The machines are pure: bytes in,
 * bytes out, the caller's clock passed in as `now` (Unix milliseconds). They never open sockets,
 * never schedule timers, and never throw on network input: outcomes are values.
 */
import type { Certificate } from "./certificate.ts";
import type { CertificateCache } from "./certificate-verify.ts";
import type { AnchorError } from "./errors.ts";
import type { Identity } from "./identity.ts";
import type { TrustedIssuers } from "./issuer.ts";
import type { RevocationSet } from "./revocation.ts";
import type { Rng } from "./rng.ts";
import type { SessionKeys } from "./session-keys.ts";

/* Specification constants (timers, as in WireGuard) */
/** Retransmit an unanswered initiation after this long (plus jitter). */
export const REKEY_TIMEOUT_MS = 5_000;
export const REKEY_TIMEOUT_JITTER_MS = 333;
/** Give up on a handshake after this long. */
export const REKEY_ATTEMPT_TIME_MS = 90_000;

/** Who we are and whom we accept. */
export interface HandshakeLocal {
  readonly identity: Identity;
  /** Our own certificate; its public keys must be the identity's. */
  readonly certificate: Certificate;
  /** Policy every peer certificate must pass. */
  readonly trust: PeerPolicy;
  readonly rng?: Rng;
  /** Source of strictly increasing initiation timestamps; defaults to a process-wide one. */
  readonly timestamps?: TimestampSource;
  /** Return true for indices already used by live sessions, so a fresh one is drawn. */
  readonly indexInUse?: (index: number) => boolean;
}

export interface PeerPolicy {
  readonly realmKeys: TrustedIssuers;
  readonly realm: string;
  readonly revoked?: RevocationSet;
  readonly requiredTaints?: readonly string[];
  readonly cache?: CertificateCache;
}

/** A finished handshake: keys for the transport plus the peer's verified certificate. */
export interface Established {
  readonly keys: SessionKeys;
  readonly peer: Certificate;
}

export type HandshakeOutput =
  /** Transmit these datagrams (an initiation, a retransmission, or a cookie reply). */
  | { readonly kind: "send"; readonly datagrams: Uint8Array[] }
  /** Input accepted, nothing to send yet (for example a fragment of an incomplete message). */
  | { readonly kind: "pending" }
  /**
   * Session keys are ready. A responder also gets the response datagrams to send; it must not send
   * transport data until the first valid transport message from the initiator arrives (the
   * initiator's possession of its static keys is proven only then).
   */
  | ({ readonly kind: "established"; readonly datagrams: Uint8Array[] } & Established)
  /** Silently dropped (bad mac, malformed framing, unknown handshake id…); counted. */
  | { readonly kind: "dropped"; readonly reason: string }
  /** Authenticated material was refused: certificate policy, replay, decryption failure. */
  | { readonly kind: "rejected"; readonly error: AnchorError }
  /** The initiator gave up (HandshakeTimeout). Terminal. */
  | { readonly kind: "failed"; readonly error: AnchorError };

/** Strictly increasing microsecond timestamps for initiations (responders refuse non-increasing ones). */
export class TimestampSource {
  #last = 0;
  next(nowMs: number): number {
    this.#last = Math.max(Math.floor(nowMs) * 1000, this.#last + 1);
    return this.#last;
  }
}

export const processTimestamps = new TimestampSource();

/** Unix seconds for certificate checks from the caller's millisecond clock. */
export function seconds(nowMs: number): number {
  return Math.floor(nowMs / 1000);
}
