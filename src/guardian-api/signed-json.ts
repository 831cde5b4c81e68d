/**
 * Signed JSON, the one envelope of the Guardian API: `{ payload, signature }` where `payload` is the
 * base64url of the exact JSON bytes that were signed (so nobody has to canonicalise JSON) and
 * `signature` is a hybrid Ed25519+ML-DSA-65 signature over them under a per-message-type context.
 */
import { HYBRID_SIGNATURE_SIZE, type SigningKeys, verifyHybrid } from "../anchor/identity.ts";
import { GuardianApiError } from "./errors.ts";

/* Implementation constants */
/** Hostile input bound: the largest envelope accepted (ML-DSA keys and signatures are ~2-3 KiB). */
export const MAX_SIGNED_JSON_BYTES = 64 * 1024;

export interface SignedJson {
  readonly payload: string;
  readonly signature: string;
}

export interface VerifyKeys {
  readonly ed25519: Uint8Array;
  readonly mldsa65: Uint8Array;
}

export function signJson(keys: SigningKeys, context: string, value: unknown): SignedJson {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return { payload: b64u(bytes), signature: b64u(keys.sign(bytes, context)) };
}

/** Parses an envelope without checking the signature; the caller needs the payload to find the key. */
export function openUnverified(body: unknown): { value: unknown; bytes: Uint8Array; signature: Uint8Array } {
  if (typeof body !== "object" || body === null) throw bad("envelope must be a JSON object");
  const { payload, signature } = body as Record<string, unknown>;
  if (typeof payload !== "string" || typeof signature !== "string") {
    throw bad("envelope needs string fields payload and signature");
  }
  if (payload.length > MAX_SIGNED_JSON_BYTES) throw bad("payload too large");
  const bytes = fromB64u(payload, "payload");
  const sig = fromB64u(signature, "signature");
  if (sig.length !== HYBRID_SIGNATURE_SIZE) throw bad("signature has the wrong size");
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw bad("payload is not JSON");
  }
  return { value, bytes, signature: sig };
}

export function verifyOpened(
  opened: { bytes: Uint8Array; signature: Uint8Array },
  context: string,
  keys: VerifyKeys,
): boolean {
  return verifyHybrid(opened.signature, opened.bytes, context, keys.ed25519, keys.mldsa65);
}

/** Opens and verifies in one step (when the signer's keys are known in advance). */
export function openSignedJson(body: unknown, context: string, keys: VerifyKeys): unknown {
  const opened = openUnverified(body);
  if (!verifyOpened(opened, context, keys)) {
    throw new GuardianApiError("SIGNATURE_INVALID", "signature does not verify", 0);
  }
  return opened.value;
}

export function b64u(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

export function fromB64u(text: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw bad(`${what} is not base64url`);
  return new Uint8Array(Buffer.from(text, "base64url"));
}

function bad(message: string): GuardianApiError {
  return new GuardianApiError("BAD_ENVELOPE", message, 0);
}
