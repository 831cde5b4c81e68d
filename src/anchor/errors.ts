/**
 * Typed errors of the Anchor protocol. Every parser in src/anchor throws only subclasses of
 * `AnchorError` on hostile input (the fuzz harness asserts exactly this); the handshake state
 * machines never throw on network input but return these errors as values.
 */
import { VeilnetError } from "../errors.ts";

/** Base of every Anchor protocol error. */
export class AnchorError extends VeilnetError {
  override readonly name: string = "AnchorError";
}

/** Raised for malformed keys or identity files; the message never contains key material. */
export class IdentityError extends AnchorError {
  override readonly name = "IdentityError";
}

/* Certificates: one class per reason, so callers and tests can tell them apart. */

/** Common parent of every certificate rejection. */
export class CertificateError extends AnchorError {
  override readonly name: string = "CertificateError";
}
/** The bytes are not a well-formed certificate (size, magic, field ranges, canonical order). */
export class CertificateMalformed extends CertificateError {
  override readonly name = "CertificateMalformed";
}
/** The issuer key id names no trusted Guardian realm key. */
export class CertificateUnknownIssuer extends CertificateError {
  override readonly name = "CertificateUnknownIssuer";
}
/** The Ed25519 or the ML-DSA-65 signature (or both) does not verify. */
export class CertificateBadSignature extends CertificateError {
  override readonly name = "CertificateBadSignature";
}
/** `now` is past not-after. */
export class CertificateExpired extends CertificateError {
  override readonly name = "CertificateExpired";
}
/** `now` is before not-before. */
export class CertificateNotYetValid extends CertificateError {
  override readonly name = "CertificateNotYetValid";
}
/** The certificate or its node id is on the revocation set. */
export class CertificateRevoked extends CertificateError {
  override readonly name = "CertificateRevoked";
}
/** The certificate belongs to another realm. */
export class CertificateWrongRealm extends CertificateError {
  override readonly name = "CertificateWrongRealm";
}
/** A taint the verifier requires is absent. */
export class CertificateMissingTaint extends CertificateError {
  override readonly name = "CertificateMissingTaint";
}

/** A signed revocation list that does not parse or verify. */
export class RevocationListError extends AnchorError {
  override readonly name = "RevocationListError";
}

/* Handshake plane */

/** A fragment header or fragment sequence that breaks the framing rules. */
export class FragmentMalformed extends AnchorError {
  override readonly name = "FragmentMalformed";
}
/** A reassembled handshake message with the wrong size or field layout. */
export class HandshakeMalformed extends AnchorError {
  override readonly name = "HandshakeMalformed";
}
/** An authenticated field failed to decrypt: wrong keys, tampering, or a stale attempt. */
export class HandshakeDecryptFailed extends AnchorError {
  override readonly name = "HandshakeDecryptFailed";
}
/** An initiation whose timestamp is not newer than the last one accepted from that node. */
export class HandshakeReplay extends AnchorError {
  override readonly name = "HandshakeReplay";
}
/** The initiator gave up after REKEY_ATTEMPT_TIME without a valid response. */
export class HandshakeTimeout extends AnchorError {
  override readonly name = "HandshakeTimeout";
}
/** Local misconfiguration (own certificate does not match own identity, and the like). */
export class HandshakeConfigError extends AnchorError {
  override readonly name = "HandshakeConfigError";
}
/** A cookie reply that does not parse or does not decrypt. */
export class CookieMalformed extends AnchorError {
  override readonly name = "CookieMalformed";
}
