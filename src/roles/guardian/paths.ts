/**
 * Layout of the Guardian state directory (`--state DIR`). Secrets are 0600 in 0700 directories and
 * `init` creates them once: it refuses to run where any of them already exists.
 *
 *   STATE/guardian.db              sqlite (WAL): realms, tokens, nodes, revocations, audit log (0600)
 *   STATE/keys/guardian.key        hybrid Ed25519+ML-DSA-65 identity: signs Anchor certificates,
 *                                  admin commands and revocation lists                       secret
 *   STATE/keys/realms/<realm>.seed NATS account nkey of each realm: signs node user JWTs      secret
 *   STATE/trust/                   the shared trust directory (src/pki/trust-store.ts): operator,
 *                                  system account, CA, server certificates. Master reads it.
 *   STATE/trust/servers/guardian-api.pem (+ -key.pem)   the HTTPS API's certificate
 */
import { join } from "node:path";
import { type TrustPaths, trustPaths } from "../../pki/index.ts";

/** The server-certificate name of the Guardian HTTPS API inside the trust directory. */
export const API_CERT_NAME = "guardian-api";

export interface StatePaths {
  readonly root: string;
  readonly db: string;
  readonly keys: string;
  readonly guardianKey: string;
  readonly realmKeys: string;
  realmSeed(realm: string): string;
  readonly trust: TrustPaths;
}

export function statePaths(root: string): StatePaths {
  const keys = join(root, "keys");
  const realmKeys = join(keys, "realms");
  return {
    root,
    db: join(root, "guardian.db"),
    keys,
    guardianKey: join(keys, "guardian.key"),
    realmKeys,
    realmSeed: (realm) => join(realmKeys, `${realm}.seed`),
    trust: trustPaths(join(root, "trust")),
  };
}
