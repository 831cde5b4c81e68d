/**
 * veilnet's trust-material library: NATS operator/account/user JWTs (nkeys) and an ECDSA P-256 CA
 * for control-plane mTLS, plus the trust-directory layout shared by Master and Guardian.
 */
export { PkiError } from "./errors.ts";
export {
  type AccountJwtOptions,
  formatCreds,
  type JwtClaims,
  type KeyPair,
  mintAccountJwt,
  mintOperatorJwt,
  mintUserJwt,
  type NatsKey,
  NKEY_PREFIX,
  type NkeyKind,
  natsKeyFromSeed,
  newNatsKey,
  UNLIMITED_ACCOUNT_LIMITS,
  type UserJwtOptions,
  verifyJwt,
} from "./nats-jwt.ts";
export { PUBLIC_FILE_MODE, readTrustFile, SECRET_FILE_MODE, writeNewFile } from "./secret-file.ts";
export {
  CLIENT_CERT_VALID_SECONDS,
  type ClientCertOptions,
  describeCert,
  type IssuedCert,
  type ServerCertOptions,
  TlsCa,
} from "./tls-ca.ts";
export { exportTlsKeyPair, generateTlsKeyPair, TLS_KEY_ALGORITHM } from "./tls-keys.ts";
export {
  type CreateTrustOptions,
  createTrust,
  issueServerFiles,
  loadTrust,
  SYSTEM_ACCOUNT_NAME,
  type Trust,
  type TrustPaths,
  trustPaths,
} from "./trust-store.ts";
