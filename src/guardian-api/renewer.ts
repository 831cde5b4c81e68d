/**
 * Keeps a node's credentials fresh: renews at half-life, retries with growing delays while the
 * current credentials are still valid, and tells listeners about every new set. `connectControl`
 * opens the node's control connection (src/control) with them and switches it over on every
 * renewal (make-before-break: the new connection is up before the old JWT expires).
 */

import { decode as decodeJwt } from "@nats-io/jwt";
import {
  ControlConnection,
  type ControlConnectOptions,
  type ControlCredentials,
  Subjects,
} from "../control/index.ts";
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
  renewals = 0;
  readonly #o: RenewerOptions;
  readonly #listeners = new Set<(c: Credentials) => void | Promise<void>>();

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

  /** Calls `listener` with every renewed set (awaited in order); returns the unsubscribe function. */
  onRenewed(listener: (c: Credentials) => void | Promise<void>): () => void {
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

  /** Renews at once; resolves with the new credentials after every listener has run. */
  async renewNow(): Promise<Credentials> {
    const next = await (this.#o.renew ?? renewRequest)(this.#o.endpoint, this.#o.keys);
    this.#current = next;
    this.#retryMs = RETRY_MIN_MS;
    this.renewals++;
    for (const l of this.#listeners) await l(next);
    return next;
  }

  #dueIn(): number {
    const c = this.#current;
    // The NATS JWT ends up to a second before expiresAt (nats-server counts whole seconds): the
    // control connection is dropped then, so half-life is taken from whichever ends first.
    const end = Math.min(c.expiresAt, jwtExpiryMs(c.natsJwt) ?? c.expiresAt);
    const at = c.issuedAt + (end - c.issuedAt) * (this.#o.renewAt ?? 0.5);
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

/** The control-connection credentials contained in a set of Credentials plus the node's secrets. */
export function controlCredentials(c: Credentials, keys: NodeKeys): ControlCredentials {
  return { jwt: c.natsJwt, seed: keys.natsSeed, certPem: c.tlsCertificate, keyPem: keys.tlsPrivateKeyPem };
}

/** Connection options for a node: Master URLs, CA, credentials, and its private reply inbox. */
export function controlConnectOptions(
  c: Credentials,
  keys: NodeKeys,
  extra: Partial<ControlConnectOptions> = {},
): ControlConnectOptions {
  return {
    servers: [...c.masters],
    caPem: c.caBundle,
    credentials: controlCredentials(c, keys),
    name: `veilnet-node-${c.nodeId.slice(0, 16)}`,
    inboxPrefix: Subjects.inboxPrefix(c.nodeId),
    ...extra,
  };
}

/** Connects with the renewer's current credentials and follows every renewal. */
export async function connectControl(
  renewer: CredentialRenewer,
  extra: Partial<ControlConnectOptions> = {},
): Promise<ControlConnection> {
  const conn = await ControlConnection.connect(controlConnectOptions(renewer.current, renewer.keys, extra));
  renewer.onRenewed((next) => conn.renew(controlCredentials(next, renewer.keys)));
  return conn;
}

/** The `exp` of a NATS JWT in epoch ms (signature checked by the library), or undefined. */
export function jwtExpiryMs(jwt: string): number | undefined {
  try {
    const exp = decodeJwt(jwt).exp;
    return typeof exp === "number" && Number.isSafeInteger(exp) && exp > 0 ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
