import { VeilnetError } from "../errors.ts";

/**
 * Why the data plane dropped a message. The data plane never throws: it returns one of these
 * (negated where a length would otherwise be returned) and counts it.
 */
export const Drop = {
  /** Shorter than header + tag, or longer than the buffer. */
  Short: 1,
  /** First byte is not the expected message type. */
  BadType: 2,
  /** Reserved header bytes are not zero. */
  Reserved: 3,
  /** Receiver index matches no live keypair. */
  UnknownReceiver: 4,
  /** Counter at or beyond the reject limit. */
  CounterLimit: 5,
  /** Counter already seen or older than the replay window. */
  Replay: 6,
  /** AEAD authentication failed. */
  BadTag: 7,
  /** The keypair is older than REJECT_AFTER_TIME. */
  Expired: 8,
  /** No keypair to send with (handshake pending). */
  NoKeys: 9,
  /** Plaintext does not fit in the caller's buffer. */
  TooLarge: 10,
} as const;
export type Drop = (typeof Drop)[keyof typeof Drop];
export const DROP_REASONS = Object.keys(Drop) as (keyof typeof Drop)[];

/** A misuse of the session API by the control plane (bad keys, wrong sizes). */
export class SessionError extends VeilnetError {
  override readonly name = "SessionError";
}
