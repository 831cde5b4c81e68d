/**
 * The Guardian on Master's NATS super cluster, through src/control:
 * - as a system-account user it pushes realm account JWTs (create a realm, add a revocation) on
 *   `$SYS.REQ.CLAIMS.UPDATE`; the servers then refuse and disconnect revoked users by themselves;
 * - as its own user inside each realm account it runs a ControlChannel under the Guardian's hybrid
 *   identity: signed revocation lists on `vn.revoke`, sealed admin requests on `vn.admin.<id>`.
 * Every connection uses mTLS with a client certificate the Guardian issues itself from the CA, and
 * is renewed (make-before-break) well before its JWT expires.
 */
import {
  ControlChannel,
  ControlConnection,
  type ControlCredentials,
  guardianPermissions,
  pushAccountJwt,
  Subjects,
} from "../../../control/index.ts";
import { GUARDIAN_INBOX_ID } from "../../../control/subjects.ts";
import { mintAccountJwt, mintUserJwt, type NatsKey, newNatsKey } from "../../../pki/index.ts";
import type { Authority } from "../authority.ts";
import { GuardianError } from "../errors.ts";
import { signedRevocationList } from "../revocations.ts";

/* Implementation constants */
export const GUARDIAN_CREDENTIAL_TTL_S = 3600;
export const GUARDIAN_RENEW_MS = 20 * 60_000;
/** The Guardian sends admin commands and lists faster than a node may send control messages. */
export const GUARDIAN_SEND_RATE = Object.freeze({ perSecond: 1000, burst: 1000 });

export interface ControlLinkOptions {
  /** Servers that must acknowledge an account push (default 1: the others get it by gossip). */
  readonly expectServers?: number;
}

export class ControlLink {
  readonly #a: Authority;
  readonly #servers: readonly string[];
  readonly #o: ControlLinkOptions;
  #system: Promise<ControlConnection> | undefined;
  readonly #realms = new Map<string, Promise<ControlChannel>>();
  #pushChain: Promise<unknown> = Promise.resolve();
  readonly #timers: ReturnType<typeof setInterval>[] = [];

  constructor(a: Authority, servers: readonly string[], o: ControlLinkOptions = {}) {
    if (servers.length === 0) throw new GuardianError("NO_MASTERS", "no Master (NATS) URLs configured");
    this.#a = a;
    this.#servers = servers;
    this.#o = o;
  }

  async #credentials(
    account: NatsKey,
    name: string,
    permissions?: ReturnType<typeof guardianPermissions>,
  ): Promise<ControlCredentials> {
    const user = newNatsKey("user");
    const jwt = await mintUserJwt({
      name,
      user: user.publicKey,
      account,
      ttlSeconds: GUARDIAN_CREDENTIAL_TTL_S,
      ...(permissions ? { permissions } : {}),
    });
    const tls = await this.#a.trust.ca.issueClient({
      commonName: "veilnet-guardian",
      validSeconds: GUARDIAN_CREDENTIAL_TTL_S,
    });
    return { jwt, seed: user.seed, certPem: tls.certPem, keyPem: tls.keyPem ?? "" };
  }

  async #open(
    account: NatsKey,
    name: string,
    permissions?: ReturnType<typeof guardianPermissions>,
    inboxPrefix?: string,
  ): Promise<ControlConnection> {
    const conn = await ControlConnection.connect({
      servers: this.#servers,
      caPem: this.#a.trust.ca.certPem,
      credentials: await this.#credentials(account, name, permissions),
      name,
      ...(inboxPrefix ? { inboxPrefix } : {}),
    });
    const timer = setInterval(() => {
      this.#credentials(account, name, permissions).then(
        (c) => conn.renew(c),
        () => undefined,
      );
    }, GUARDIAN_RENEW_MS);
    timer.unref?.();
    this.#timers.push(timer);
    return conn;
  }

  #systemConnection(): Promise<ControlConnection> {
    if (!this.#system) {
      this.#system = this.#open(this.#a.trust.systemAccount, "veilnet-guardian-system");
      this.#system.catch(() => {
        this.#system = undefined;
      });
    }
    return this.#system;
  }

  /** The Guardian's control channel inside a realm account (opened on first use, then kept). */
  realmChannel(realm: string): Promise<ControlChannel> {
    let ch = this.#realms.get(realm);
    if (!ch) {
      ch = this.#open(
        this.#a.realmKey(realm),
        `veilnet-guardian-${realm}`,
        guardianPermissions(),
        Subjects.inboxPrefix(GUARDIAN_INBOX_ID),
      ).then(
        (connection) =>
          new ControlChannel({ identity: this.#a.identity, connection, sendRate: GUARDIAN_SEND_RATE }),
      );
      this.#realms.set(realm, ch);
      ch.catch(() => this.#realms.delete(realm));
    }
    return ch;
  }

  /** Pushes the realm's account JWT (limits + every revocation) to the servers, serialised. */
  pushRealm(realm: string): Promise<void> {
    const run = this.#pushChain.then(() => this.#push(realm));
    this.#pushChain = run.catch(() => undefined);
    return run;
  }

  async #push(realm: string): Promise<void> {
    const record = this.#a.store.realm(realm);
    if (!record) throw new GuardianError("REALM_UNKNOWN", `no realm '${realm}'`, 404);
    const revocations: Record<string, number> = {};
    for (const r of this.#a.store.revocations(realm)) revocations[r.natsPublic] = Math.floor(r.at / 1000);
    const jwt = await mintAccountJwt({
      name: realm,
      account: record.accountPublic,
      operator: this.#a.trust.operator,
      revocations,
    });
    await pushAccountJwt(
      await this.#systemConnection(),
      jwt,
      this.#a.trust.operator.publicKey,
      this.#o.expectServers ?? 1,
    );
  }

  async pushAllRealms(): Promise<void> {
    for (const r of this.#a.store.realms()) await this.pushRealm(r.id);
  }

  /** Publishes the realm's signed revocation list (anchor encoding) to every node of the realm. */
  async publishRevocations(realm: string): Promise<void> {
    const ch = await this.realmChannel(realm);
    await ch.publish(Subjects.revocations, signedRevocationList(this.#a, realm));
    await ch.connection.flush();
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    const all = [...this.#realms.values()];
    this.#realms.clear();
    for (const p of all) {
      try {
        await (await p).connection.close();
      } catch {
        // a connection that never opened has nothing to close
      }
    }
    const sys = this.#system;
    this.#system = undefined;
    if (sys) await (await sys.catch(() => undefined))?.close();
  }
}
