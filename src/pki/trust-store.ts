/**
 * The trust directory shared by Master (server configs) and Guardian (realm accounts, node
 * credentials). Layout (secrets 0600, directory 0700):
 *
 *   operator.seed         SO…  operator identity key: signs account (realm) JWTs       secret
 *   operator.jwt               operator JWT (self-signed, names the system account)
 *   system-account.seed   SA…  system account key: signs system users                  secret
 *   system-account.jwt         system account JWT (operator-signed), preloaded on servers
 *   system-user.creds          a system-account user for pushing account JWTs          secret
 *   ca.pem / ca-key.pem        ECDSA P-256 CA for all control-plane TLS                 key secret
 *   servers/<name>.pem, servers/<name>-key.pem   per NATS server                      key secret
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PkiError } from "./errors.ts";
import {
  formatCreds,
  mintAccountJwt,
  mintOperatorJwt,
  mintUserJwt,
  type NatsKey,
  natsKeyFromSeed,
  newNatsKey,
  verifyJwt,
} from "./nats-jwt.ts";
import { PUBLIC_FILE_MODE, readTrustFile, SECRET_FILE_MODE, writeNewFile } from "./secret-file.ts";
import { type ServerCertOptions, TlsCa } from "./tls-ca.ts";

/* Implementation constants */
export const SYSTEM_ACCOUNT_NAME = "SYS";
/** The bootstrap system user is long-lived; rotate it by re-minting from system-account.seed. */
export const SYSTEM_USER_TTL_SECONDS = 365 * 86_400;

export interface TrustPaths {
  readonly dir: string;
  readonly operatorSeed: string;
  readonly operatorJwt: string;
  readonly systemAccountSeed: string;
  readonly systemAccountJwt: string;
  readonly systemUserCreds: string;
  readonly caCert: string;
  readonly caKey: string;
  serverCert(name: string): string;
  serverKey(name: string): string;
}

export function trustPaths(dir: string): TrustPaths {
  return {
    dir,
    operatorSeed: join(dir, "operator.seed"),
    operatorJwt: join(dir, "operator.jwt"),
    systemAccountSeed: join(dir, "system-account.seed"),
    systemAccountJwt: join(dir, "system-account.jwt"),
    systemUserCreds: join(dir, "system-user.creds"),
    caCert: join(dir, "ca.pem"),
    caKey: join(dir, "ca-key.pem"),
    serverCert: (name) => join(dir, "servers", `${safeName(name)}.pem`),
    serverKey: (name) => join(dir, "servers", `${safeName(name)}-key.pem`),
  };
}

/** Everything loaded from a trust directory. */
export interface Trust {
  readonly paths: TrustPaths;
  readonly operator: NatsKey;
  readonly operatorJwt: string;
  readonly systemAccount: NatsKey;
  readonly systemAccountJwt: string;
  readonly ca: TlsCa;
}

export interface CreateTrustOptions {
  dir: string;
  operatorName: string;
  /** NATS servers to issue TLS certificates for. */
  servers: readonly (ServerCertOptions & { name: string })[];
}

/**
 * Creates a complete trust directory. Refuses (PKI_EXISTS) if any of its files exists, before
 * writing anything, so an existing operator or CA is never replaced.
 */
export async function createTrust(opts: CreateTrustOptions): Promise<Trust> {
  const p = trustPaths(opts.dir);
  const targets = [
    p.operatorSeed,
    p.operatorJwt,
    p.systemAccountSeed,
    p.systemAccountJwt,
    p.systemUserCreds,
    p.caCert,
    p.caKey,
    ...opts.servers.flatMap((s) => [p.serverCert(s.name), p.serverKey(s.name)]),
  ];
  const present = targets.find((t) => existsSync(t));
  if (present) throw new PkiError("PKI_EXISTS", `refusing to overwrite ${present}`);

  const operator = newNatsKey("operator");
  const systemAccount = newNatsKey("account");
  const systemUser = newNatsKey("user");
  const operatorJwt = await mintOperatorJwt({
    name: opts.operatorName,
    operator,
    systemAccount: systemAccount.publicKey,
  });
  const systemAccountJwt = await mintAccountJwt({
    name: SYSTEM_ACCOUNT_NAME,
    account: systemAccount.publicKey,
    operator,
  });
  const systemUserJwt = await mintUserJwt({
    name: "veilnet-system",
    user: systemUser.publicKey,
    account: systemAccount,
    ttlSeconds: SYSTEM_USER_TTL_SECONDS,
  });
  const ca = await TlsCa.create({ commonName: `${opts.operatorName} control CA` });

  writeNewFile(p.operatorSeed, `${operator.seed}\n`, SECRET_FILE_MODE);
  writeNewFile(p.operatorJwt, `${operatorJwt}\n`, PUBLIC_FILE_MODE);
  writeNewFile(p.systemAccountSeed, `${systemAccount.seed}\n`, SECRET_FILE_MODE);
  writeNewFile(p.systemAccountJwt, `${systemAccountJwt}\n`, PUBLIC_FILE_MODE);
  writeNewFile(p.systemUserCreds, formatCreds(systemUserJwt, systemUser), SECRET_FILE_MODE);
  writeNewFile(p.caCert, ca.certPem, PUBLIC_FILE_MODE);
  writeNewFile(p.caKey, await ca.exportKeyPem(), SECRET_FILE_MODE);
  const trust: Trust = { paths: p, operator, operatorJwt, systemAccount, systemAccountJwt, ca };
  for (const s of opts.servers) await issueServerFiles(trust, s);
  return trust;
}

/** Issues and writes `servers/<name>.pem` + key for one server; refuses to overwrite. */
export async function issueServerFiles(
  trust: Trust,
  server: ServerCertOptions & { name: string },
): Promise<void> {
  const issued = await trust.ca.issueServer(server);
  writeNewFile(trust.paths.serverCert(server.name), issued.certPem, PUBLIC_FILE_MODE);
  writeNewFile(trust.paths.serverKey(server.name), issued.keyPem ?? "", SECRET_FILE_MODE);
}

/** Loads and cross-checks a trust directory (JWT signers, key/JWT agreement, CA key/cert match). */
export async function loadTrust(dir: string): Promise<Trust> {
  const p = trustPaths(dir);
  const operator = natsKeyFromSeed(readTrustFile(p.operatorSeed), "operator");
  const systemAccount = natsKeyFromSeed(readTrustFile(p.systemAccountSeed), "account");
  const operatorJwt = readTrustFile(p.operatorJwt).trim();
  const systemAccountJwt = readTrustFile(p.systemAccountJwt).trim();
  const op = verifyJwt<{ system_account?: string }>(operatorJwt, {
    type: "operator",
    trustedIssuers: [operator.publicKey],
  });
  if (op.sub !== operator.publicKey || op.nats.system_account !== systemAccount.publicKey) {
    throw new PkiError("PKI_TRUST_MISMATCH", "operator JWT does not match operator.seed / system account");
  }
  const sys = verifyJwt(systemAccountJwt, { type: "account", trustedIssuers: [operator.publicKey] });
  if (sys.sub !== systemAccount.publicKey) {
    throw new PkiError("PKI_TRUST_MISMATCH", "system account JWT does not match system-account.seed");
  }
  const ca = await TlsCa.fromPem(readTrustFile(p.caCert), readTrustFile(p.caKey));
  return { paths: p, operator, operatorJwt, systemAccount, systemAccountJwt, ca };
}

function safeName(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new PkiError("PKI_BAD_NAME", "server name must be 1-64 of [A-Za-z0-9_-]");
  }
  return name;
}
