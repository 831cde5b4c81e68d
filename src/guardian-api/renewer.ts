/**
 * Keeps a node's credentials fresh: renews at half-life, retries with growing delays while the
 * current credentials are still valid, and tells listeners about every new set. Also builds the
 * NATS connection options whose JWT and client certificate follow the renewals (the server drops
 * a connection when its JWT expires; the client reconnects with the current one).
 */
import { type ConnectionOptions, jwtAuthenticator } from "nats";
import { type GuardianEndpoint, renew as renewRequest } from "./client.ts";
import type { NodeKeys } from "./node-keys.ts";
import type { Credentials } from "./wire.ts";

/* Implementation constants */
export const RETRY_MIN_MS = 250;
export const RETRY_MAX_MS = 30_000;

export interface RenewerOptions {
  readonly endpoint: GuardianEndpoint;
  readonly keys: NodeKeys;
  readonly credentials: Credentials;
  /** Fraction of the lifetime after which to renew (default 0.5: half-life). */
  readonly renewAt?: number;
  readonly onError?: (err: unknown) => void;
  /** Replaces the HTTP call (tests, or a node that renews over another channel). */
  readonly renew?: (endpoint: GuardianEndpoint, keys: NodeKeys) => Promise<Credentials>;
}

export class CredentialRenewer {
  #current: Credentials;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = RETRY_MIN_MS;
  #running = false;
  readonly #o: RenewerOptions;
  readonly #listeners = new Set<(c: Credentials) => void>();

  constructor(o: RenewerOptions) {
    this.#o = o;
    this.#current = o.credentials;
  }

  get current(): Credentials {
    return this.#current;
  }

  get keys(): NodeKeys {
    return this.#o.keys;
  }

  /** Calls `listener` with every renewed set; returns the unsubscribe function. */
  onRenewed(listener: (c: Credentials) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(this.#dueIn());
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Renews at once; resolves with the new credentials (listeners are told first). */
  async renewNow(): Promise<Credentials> {
    const next = await (this.#o.renew ?? renewRequest)(this.#o.endpoint, this.#o.keys);
    this.#current = next;
    this.#retryMs = RETRY_MIN_MS;
    for (const l of this.#listeners) l(next);
    return next;
  }

  #dueIn(): number {
    const c = this.#current;
    const at = c.issuedAt + (c.expiresAt - c.issuedAt) * (this.#o.renewAt ?? 0.5);
    return Math.max(0, at - Date.now());
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => void this.#tick(), ms);
  }

  async #tick(): Promise<void> {
    try {
      await this.renewNow();
      this.#schedule(this.#dueIn());
    } catch (err) {
      this.#o.onError?.(err);
      const left = this.#current.expiresAt - Date.now();
      this.#schedule(Math.min(this.#retryMs, Math.max(RETRY_MIN_MS, left / 4)));
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    }
  }
}

/**
 * Options for `connect()` from the `nats` package: the Master URLs, mTLS with the current client
 * certificate, and the current JWT (the authenticator is synchronous, as nats.js requires). The
 * `tls` object is updated in place on renewal, so every reconnect uses the newest certificate.
 */
export function nodeNatsOptions(
  renewer: CredentialRenewer,
  extra: Partial<ConnectionOptions> = {},
): ConnectionOptions {
  const c = renewer.current;
  const tls = { ca: c.caBundle, cert: c.tlsCertificate, key: renewer.keys.tlsPrivateKeyPem };
  renewer.onRenewed((next) => {
    tls.cert = next.tlsCertificate;
    tls.ca = next.caBundle;
  });
  const seed = new TextEncoder().encode(renewer.keys.natsSeed);
  return {
    servers: [...c.masters],
    tls,
    authenticator: jwtAuthenticator(
      () => renewer.current.natsJwt,
      () => seed,
    ),
    reconnectTimeWait: 250,
    reconnectJitterTLS: 100,
    maxReconnectAttempts: -1,
    ...extra,
  };
}
