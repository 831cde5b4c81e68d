/**
 * The Guardian on Master's NATS super cluster:
 * - as a system-account user it pushes realm account JWTs (create a realm, add a revocation) on
 *   `$SYS.REQ.CLAIMS.UPDATE`; the servers then refuse and disconnect revoked users by themselves;
 * - as its own user inside each realm account it publishes signed revocation lists and sends admin
 *   commands (request/reply) to nodes.
 * Every connection uses mTLS with a client certificate the Guardian issues itself from the CA.
 * Account updates are serialised: nats-server keeps the last JWT written (research/nats.md §2).
 */

import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, jwtAuthenticator, type NatsConnection } from "nats";
import { REVOCATIONS_SUBJECT } from "../../../guardian-api/subjects.ts";
import { mintAccountJwt, mintUserJwt, newNatsKey, verifyJwt } from "../../../pki/index.ts";
import type { Authority } from "../authority.ts";
import { GuardianError } from "../errors.ts";
import { guardianPermissions } from "../permissions.ts";
import { signedRevocationList } from "../revocations.ts";

/* Implementation constants */
export const GUARDIAN_USER_TTL_S = 3600;
export const GUARDIAN_USER_REFRESH_MS = 20 * 60_000;
export const CLAIMS_UPDATE_TIMEOUT_MS = 3_000;
const CLAIMS_UPDATE_SUBJECT = "$SYS.REQ.CLAIMS.UPDATE";

export class ControlLink {
  readonly #a: Authority;
  readonly #servers: readonly string[];
  #tls: { ca: string; cert: string; key: string } | undefined;
  #system: NatsConnection | undefined;
  readonly #realms = new Map<string, Promise<NatsConnection>>();
  #pushChain: Promise<unknown> = Promise.resolve();
  readonly #timers: ReturnType<typeof setInterval>[] = [];

  constructor(a: Authority, servers: readonly string[]) {
    if (servers.length === 0) throw new GuardianError("NO_MASTERS", "no Master (NATS) URLs configured");
    this.#a = a;
    this.#servers = servers;
  }

  async #tlsOptions(): Promise<{ ca: string; cert: string; key: string }> {
    if (!this.#tls) {
      const issued = await this.#a.trust.ca.issueClient({
        commonName: "veilnet-guardian",
        validSeconds: 7 * 86_400,
      });
      this.#tls = { ca: this.#a.trust.ca.certPem, cert: issued.certPem, key: issued.keyPem ?? "" };
    }
    return this.#tls;
  }

  async #systemConnection(): Promise<NatsConnection> {
    if (this.#system && !this.#system.isClosed()) return this.#system;
    this.#system = await connect({
      servers: [...this.#servers],
      name: "veilnet-guardian-system",
      tls: await this.#tlsOptions(),
      authenticator: credsAuthenticator(readFileSync(this.#a.paths.trust.systemUserCreds)),
      reconnectTimeWait: 250,
      maxReconnectAttempts: -1,
    });
    return this.#system;
  }

  /** The Guardian's connection inside a realm account (created on first use, then kept). */
  realmConnection(realm: string): Promise<NatsConnection> {
    let conn = this.#realms.get(realm);
    if (!conn) {
      conn = this.#openRealm(realm);
      this.#realms.set(realm, conn);
      conn.catch(() => this.#realms.delete(realm));
    }
    return conn;
  }

  async #openRealm(realm: string): Promise<NatsConnection> {
    const account = this.#a.realmKey(realm);
    const user = newNatsKey("user");
    const mint = () =>
      mintUserJwt({
        name: `guardian@${realm}`,
        user: user.publicKey,
        account,
        permissions: guardianPermissions(),
        ttlSeconds: GUARDIAN_USER_TTL_S,
      });
    let jwt = await mint();
    const timer = setInterval(() => {
      mint().then(
        (next) => {
          jwt = next;
        },
        () => undefined,
      );
    }, GUARDIAN_USER_REFRESH_MS);
    timer.unref?.();
    this.#timers.push(timer);
    const seed = new TextEncoder().encode(user.seed);
    return connect({
      servers: [...this.#servers],
      name: `veilnet-guardian-${realm}`,
      tls: await this.#tlsOptions(),
      authenticator: jwtAuthenticator(
        () => jwt,
        () => seed,
      ),
      reconnectTimeWait: 250,
      maxReconnectAttempts: -1,
    });
  }

  /** Pushes the realm's account JWT (limits + every revocation) to the servers. */
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
    verifyJwt(jwt, { type: "account", trustedIssuers: [this.#a.trust.operator.publicKey] });
    const nc = await this.#systemConnection();
    const reply = await nc.request(CLAIMS_UPDATE_SUBJECT, new TextEncoder().encode(jwt), {
      timeout: CLAIMS_UPDATE_TIMEOUT_MS,
    });
    const body = JSON.parse(new TextDecoder().decode(reply.data)) as {
      data?: { code?: number };
      error?: unknown;
    };
    if (body.data?.code !== 200) {
      throw new GuardianError("NATS_CLAIMS_REFUSED", `the servers refused realm ${realm}'s account JWT`, 502);
    }
  }

  async pushAllRealms(): Promise<void> {
    for (const r of this.#a.store.realms()) await this.pushRealm(r.id);
  }

  /** Publishes the realm's signed revocation list to every node of the realm. */
  async publishRevocations(realm: string): Promise<void> {
    const nc = await this.realmConnection(realm);
    nc.publish(REVOCATIONS_SUBJECT, signedRevocationList(this.#a, realm));
    await nc.flush();
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    const all = [...this.#realms.values()];
    this.#realms.clear();
    for (const p of all) {
      try {
        await (await p).close();
      } catch {
        // a connection that never opened has nothing to close
      }
    }
    await this.#system?.close();
    this.#system = undefined;
  }
}
