/**
 * Realm ids as carried in certificates: 1..64 bytes of [A-Za-z0-9._-]. Guardian's realm names
 * (lower-case, ≤ 32 characters) fit this set, so a realm id is the realm name itself.
 */

/* Specification constants */
export const REALM_ID_MAX_BYTES = 64;
export const REALM_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export function isValidRealmId(realmId: string): boolean {
  return REALM_ID_PATTERN.test(realmId);
}
