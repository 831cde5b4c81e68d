/**
 * Trusted Guardian (issuer) keys, looked up by key id. A node learns its realm's key at enrolment;
 * during a key roll-over it trusts both keys for a while.
 */
import { toHex } from "./_bytes.ts";
import { issuerKeyIdOf, type SigningKeys } from "./identity.ts";

/** The public half of a Guardian realm signing key. */
export type IssuerPublicKey = Pick<SigningKeys, "ed25519Public" | "mldsa65Public">;

/** Trusted issuer keys by hex key id (`issuerKeyIdOf`). */
export type TrustedIssuers = ReadonlyMap<string, IssuerPublicKey>;

/** Builds the key-id map for one or more issuer keys (copies only the public halves). */
export function trustedIssuers(...keys: IssuerPublicKey[]): TrustedIssuers {
  const map = new Map<string, IssuerPublicKey>();
  for (const k of keys) {
    map.set(toHex(issuerKeyIdOf(k)), { ed25519Public: k.ed25519Public, mldsa65Public: k.mldsa65Public });
  }
  return map;
}
