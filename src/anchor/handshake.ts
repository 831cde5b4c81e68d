/**
 * The Anchor handshake: hybrid X25519 + ML-KEM-768, authenticated by encapsulating to the peers'
 * certified static keys (the Post-Quantum WireGuard / Rosenpass pattern), with ephemeral X25519
 * and ML-KEM-768 keys for forward secrecy. One round trip; the wire spec is docs/anchor-protocol.md.
 *
 *   initiator                                                    responder
 *   e_i, E_i; ct_s = Encaps(S_r)
 *   es + ss_kem → seal(certificate_i); ss → seal(timestamp)
 *        ──── HandshakeInitiation (≈ 9 KB, 8 fragments, mac1/mac2 each) ────▶
 *                                          e_r; ct_e = Encaps(E_i); ct_s' = Encaps(S_i)
 *                                          ee + ek → se + sk' → seal(empty)
 *        ◀──── HandshakeResponse (2232 B, 2 fragments) ─────────────────────
 *   both: split() → (k_i2r, k_r2i) → SessionKeys
 */

export { peekHandshakeId } from "./fragment.ts";
export { HandshakeInitiator, type InitiatorState } from "./handshake-initiator.ts";
export { HandshakeResponder, type ResponderStats } from "./handshake-responder.ts";
export {
  type Established,
  type HandshakeLocal,
  type HandshakeOutput,
  type PeerPolicy,
  processTimestamps,
  REKEY_ATTEMPT_TIME_MS,
  REKEY_TIMEOUT_MS,
  TimestampSource,
} from "./handshake-types.ts";
