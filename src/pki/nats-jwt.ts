/**
 * NATS operator-mode trust: operator, account ("realm") and user JWTs, minted with @nats-io/jwt and
 * signed with nkeys (Ed25519). Facts for nats-server 2.9.10 that shape this file (research/nats.md):
 * - account limits left out are 0, not unlimited, so every account JWT carries explicit limits;
 * - the server accepts (and stores) account JWTs signed by an untrusted key, so callers verify the
 *   signer with `verifyJwt` before pushing;
 * - each account update replaces the whole claim and the last write wins, so re-send limits and
 *   revocations every time and serialise updates;
 * - a responder needs `_INBOX.>` publish rights or `resp`, else replies are dropped.
 */
import {
  type Account,
  Algorithms,
  type ClaimsData,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  type Operator,
  type Permissions,
  type User,
} from "@nats-io/jwt";
import {
  createAccount,
  createOperator,
  createUser,
  fromPublic,
  fromSeed,
  type KeyPair,
} from "@nats-io/nkeys";
import { PkiError } from "./errors.ts";

export type { KeyPair } from "@nats-io/nkeys";

/* Implementation constants */
/** Unlimited account limits (-1); `wildcards` governs wildcard exports. */
export const UNLIMITED_ACCOUNT_LIMITS = Object.freeze({
  conn: -1,
  subs: -1,
  payload: -1,
  data: -1,
  imports: -1,
  exports: -1,
  leaf: -1,
  wildcards: true,
});
/** Public key prefixes of nkeys (first character of the encoded key). */
export const NKEY_PREFIX = { operator: "O", account: "A", user: "U" } as const;
export type NkeyKind = keyof typeof NKEY_PREFIX;

/** A named nkey pair: `seed` is secret (write 0600, never log). */
export interface NatsKey {
  readonly publicKey: string;
  readonly seed: string;
  readonly pair: KeyPair;
}

/** Creates a fresh operator, account or user nkey. */
export function newNatsKey(kind: NkeyKind): NatsKey {
  const pair = kind === "operator" ? createOperator() : kind === "account" ? createAccount() : createUser();
  return wrap(pair);
}

/** Parses a seed ("SO…", "SA…", "SU…") and checks it is of the expected kind. */
export function natsKeyFromSeed(seed: string, kind: NkeyKind): NatsKey {
  let pair: KeyPair;
  try {
    pair = fromSeed(new TextEncoder().encode(seed.trim()));
  } catch (cause) {
    throw new PkiError("PKI_BAD_SEED", `not a valid nkey seed (${kind})`, { cause });
  }
  if (!pair.getPublicKey().startsWith(NKEY_PREFIX[kind])) {
    throw new PkiError("PKI_BAD_SEED", `nkey seed is not an ${kind} key`);
  }
  return wrap(pair);
}

function wrap(pair: KeyPair): NatsKey {
  return Object.freeze({
    publicKey: pair.getPublicKey(),
    seed: new TextDecoder().decode(pair.getSeed()),
    pair,
  });
}

/** Operator JWT, self-signed; names the system account so servers need no separate setting. */
export async function mintOperatorJwt(opts: {
  name: string;
  operator: NatsKey;
  systemAccount: string;
}): Promise<string> {
  const claims: Partial<Operator> = { system_account: opts.systemAccount };
  return encodeOperator(opts.name, opts.operator.pair, claims, { algorithm: Algorithms.v2 });
}

export interface AccountJwtOptions {
  name: string;
  /** The account's public key ("A…"). */
  account: string;
  /** The operator key that signs (the operator's identity key). */
  operator: NatsKey;
  /** Defaults to UNLIMITED_ACCOUNT_LIMITS; partial limits are merged over it. */
  limits?: Partial<typeof UNLIMITED_ACCOUNT_LIMITS>;
  /** user public key → unix seconds; JWTs of that user with iat ≤ the value are refused. "*" = all. */
  revocations?: Record<string, number>;
  /** Extra claims (exports, imports, default_permissions …). */
  extra?: Partial<Account>;
}

/** Account (realm) JWT signed by the operator, always with explicit limits. */
export async function mintAccountJwt(opts: AccountJwtOptions): Promise<string> {
  assertKind(opts.account, "account");
  const claims: Partial<Account> = {
    ...opts.extra,
    limits: { ...UNLIMITED_ACCOUNT_LIMITS, ...opts.limits },
  };
  if (opts.revocations && Object.keys(opts.revocations).length > 0) claims.revocations = opts.revocations;
  return encodeAccount(opts.name, opts.account, claims, {
    algorithm: Algorithms.v2,
    signer: opts.operator.pair,
  });
}

export interface UserJwtOptions {
  name: string;
  /** The user's public key ("U…"). */
  user: string;
  /** The account key that signs (account identity key). */
  account: NatsKey;
  /** Publish/subscribe permissions; omitted = everything in the account. */
  permissions?: Permissions;
  /** Lifetime in seconds (the server disconnects the client 0.3–0.8 s after expiry). */
  ttlSeconds: number;
  /** Clock override (unix seconds) for tests. */
  nowSeconds?: number;
}

/** User JWT signed by its account, expiring after `ttlSeconds`. */
export async function mintUserJwt(opts: UserJwtOptions): Promise<string> {
  assertKind(opts.user, "user");
  if (!(opts.ttlSeconds > 0)) throw new PkiError("PKI_BAD_TTL", "user JWT lifetime must be positive");
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const claims: Partial<User> = { ...opts.permissions };
  return encodeUser(opts.name, opts.user, opts.account.pair, claims, {
    algorithm: Algorithms.v2,
    exp: now + Math.ceil(opts.ttlSeconds),
  });
}

/** The `.creds` file format understood by nats clients and `nats` CLI. Secret: write 0600. */
export function formatCreds(jwt: string, user: NatsKey): string {
  return new TextDecoder().decode(fmtCreds(jwt, user.pair));
}

/** Decoded JWT claims, after the signature has been checked. */
export type JwtClaims<T = unknown> = ClaimsData<T>;

/**
 * Verifies a NATS JWT: structure, Ed25519 signature by its `iss`, the issuer being one of
 * `trustedIssuers` (when given), the claim type, and nbf/exp against `nowSeconds`.
 * Throws PkiError with a code on any failure. Never trusts fields before the signature checks.
 */
export function verifyJwt<T = unknown>(
  jwt: string,
  expect: {
    type?: "operator" | "account" | "user";
    trustedIssuers?: readonly string[];
    nowSeconds?: number;
  } = {},
): JwtClaims<T> {
  const parts = typeof jwt === "string" ? jwt.trim().split(".") : [];
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) {
    throw new PkiError("PKI_JWT_MALFORMED", "JWT must be three base64url parts");
  }
  const [h, p, s] = parts as [string, string, string];
  let header: { typ?: unknown; alg?: unknown };
  let claims: JwtClaims<T>;
  try {
    header = JSON.parse(new TextDecoder().decode(b64urlDecode(h)));
    claims = JSON.parse(new TextDecoder().decode(b64urlDecode(p)));
  } catch (cause) {
    throw new PkiError("PKI_JWT_MALFORMED", "JWT header or payload is not JSON", { cause });
  }
  if (header.alg !== Algorithms.v2 || (header.typ !== "JWT" && header.typ !== "jwt")) {
    throw new PkiError("PKI_JWT_MALFORMED", "JWT must be typ JWT, alg ed25519-nkey");
  }
  if (
    typeof claims !== "object" ||
    claims === null ||
    typeof claims.iss !== "string" ||
    typeof claims.sub !== "string"
  ) {
    throw new PkiError("PKI_JWT_MALFORMED", "JWT lacks iss or sub");
  }
  let issuer: KeyPair;
  try {
    issuer = fromPublic(claims.iss);
  } catch (cause) {
    throw new PkiError("PKI_JWT_BAD_ISSUER", "JWT issuer is not an nkey", { cause });
  }
  const signature = b64urlDecode(s);
  if (!issuer.verify(new TextEncoder().encode(`${h}.${p}`), signature)) {
    throw new PkiError("PKI_JWT_BAD_SIGNATURE", "JWT signature does not verify");
  }
  if (expect.trustedIssuers && !expect.trustedIssuers.includes(claims.iss)) {
    throw new PkiError("PKI_JWT_UNTRUSTED", "JWT is signed by a key that is not trusted");
  }
  const type = (claims.nats as { type?: unknown } | undefined)?.type ?? claims.type;
  if (expect.type && type !== expect.type) {
    throw new PkiError("PKI_JWT_WRONG_TYPE", `JWT is of type ${String(type)}, expected ${expect.type}`);
  }
  const now = expect.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (typeof claims.exp === "number" && claims.exp > 0 && now >= claims.exp) {
    throw new PkiError("PKI_JWT_EXPIRED", "JWT has expired");
  }
  if (typeof claims.nbf === "number" && claims.nbf > 0 && now < claims.nbf) {
    throw new PkiError("PKI_JWT_NOT_YET_VALID", "JWT is not valid yet");
  }
  return claims;
}

function assertKind(publicKey: string, kind: NkeyKind): void {
  try {
    fromPublic(publicKey);
  } catch (cause) {
    throw new PkiError("PKI_BAD_PUBLIC_KEY", `not a valid ${kind} public key`, { cause });
  }
  if (!publicKey.startsWith(NKEY_PREFIX[kind])) {
    throw new PkiError("PKI_BAD_PUBLIC_KEY", `public key is not an ${kind} key`);
  }
}

function b64urlDecode(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "base64url"));
}
