/**
 * The loaded Guardian: its hybrid identity, the trust directory (operator, system account, CA),
 * the database, and the realm account keys. `initState` creates all of it once; `openAuthority`
 * loads it and checks that it is whole.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { resolve } from "node:path";
import { Identity } from "../../anchor/identity.ts";
import {
  createTrust,
  issueServerFiles,
  loadTrust,
  type NatsKey,
  natsKeyFromSeed,
  newNatsKey,
  type Trust,
} from "../../pki/index.ts";
import { writeFileAtomic } from "../../storage/atomic-file.ts";
import { GuardianError, GuardianStateError } from "./errors.ts";
import { API_CERT_NAME, type StatePaths, statePaths } from "./paths.ts";
import { openDatabase } from "./store/database.ts";
import type { RealmRecord } from "./store/records.ts";
import { Store } from "./store/store.ts";

/* Specification constants */
export const REALM_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

export interface InitOptions {
  /** The operator's name in its JWT and the CA's common name. */
  operatorName: string;
  /** DNS names and IP addresses the HTTPS API is reached at (its certificate's SANs). */
  apiDnsNames: readonly string[];
  apiIpAddresses: readonly string[];
  /** Use this existing trust directory (made by `master --init`) instead of creating one. */
  adoptTrust?: string;
}

export interface Authority {
  readonly paths: StatePaths;
  readonly identity: Identity;
  readonly trust: Trust;
  readonly store: Store;
  realmKey(realm: string): NatsKey;
  close(): void;
}

/** Creates a Guardian state directory. Refuses if any part of one is already there. */
export async function initState(root: string, opts: InitOptions): Promise<void> {
  const p = statePaths(root);
  for (const path of [p.db, p.guardianKey, p.trust.dir]) {
    if (existsSync(path)) throw new GuardianStateError("STATE_EXISTS", `refusing to overwrite ${path}`);
  }
  for (const dir of [root, p.keys, p.realmKeys]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
  const apiCert = {
    name: API_CERT_NAME,
    commonName: "veilnet guardian",
    dnsNames: opts.apiDnsNames,
    ipAddresses: opts.apiIpAddresses,
  };
  if (opts.adoptTrust) {
    const trust = await loadTrust(resolve(opts.adoptTrust)); // checks it is whole before linking it
    symlinkSync(trust.paths.dir, p.trust.dir);
    if (!existsSync(p.trust.serverCert(API_CERT_NAME))) await issueServerFiles(trust, apiCert);
  } else {
    await createTrust({ dir: p.trust.dir, operatorName: opts.operatorName, servers: [apiCert] });
  }
  const identity = Identity.generate();
  writeFileAtomic(p.guardianKey, identity.exportSecret(), { mode: 0o600, exclusive: true });
  const store = new Store(openDatabase(p.db, { create: true }));
  store.setSetting("operator_name", opts.operatorName);
  store.audit("init", "guardian.init", opts.operatorName, "ok", {}, Date.now());
  store.close();
}

export async function openAuthority(root: string): Promise<Authority> {
  const p = statePaths(root);
  if (!existsSync(p.guardianKey)) {
    throw new GuardianStateError("STATE_MISSING", `no Guardian state in ${root} (run init first)`);
  }
  const identity = Identity.fromSecret(new Uint8Array(readFileSync(p.guardianKey)));
  const trust = await loadTrust(p.trust.dir);
  const store = new Store(openDatabase(p.db));
  const realmKeys = new Map<string, NatsKey>();
  return {
    paths: p,
    identity,
    trust,
    store,
    realmKey(realm: string): NatsKey {
      let key = realmKeys.get(realm);
      if (key) return key;
      const record = store.realm(realm);
      if (!record) throw new GuardianError("REALM_UNKNOWN", `no realm '${realm}'`, 404);
      key = natsKeyFromSeed(readFileSync(p.realmSeed(realm), "utf8"), "account");
      if (key.publicKey !== record.accountPublic) {
        throw new GuardianStateError("STATE_REALM_KEY", `realm key file of '${realm}' does not match`);
      }
      realmKeys.set(realm, key);
      return key;
    },
    close: () => store.close(),
  };
}

/**
 * Creates a realm: its NATS account key (written before the row, so a crash in between leaves an
 * unused key file that the retry adopts, never a realm without a key).
 */
export function createRealm(a: Authority, id: string, actor: string): RealmRecord {
  if (!REALM_ID_PATTERN.test(id)) {
    throw new GuardianError(
      "REALM_BAD_ID",
      "a realm id is 1-32 of [a-z0-9-], starting with a letter or digit",
    );
  }
  if (a.store.realm(id)) throw new GuardianError("REALM_EXISTS", `realm '${id}' already exists`, 409);
  const seedPath = a.paths.realmSeed(id);
  let key: NatsKey;
  if (existsSync(seedPath)) {
    key = natsKeyFromSeed(readFileSync(seedPath, "utf8"), "account");
  } else {
    key = newNatsKey("account");
    writeFileAtomic(seedPath, `${key.seed}\n`, { mode: 0o600, exclusive: true });
  }
  return a.store.createRealm(id, key.publicKey, actor, Date.now());
}
