/**
 * The NATS connection every role uses to reach Master: user JWT (function-form jwtAuthenticator, so
 * a reconnect presents the newest credentials) + mTLS client certificate, a server list spanning
 * clusters, and fast reconnects (research/nats.md §6: reconnectTimeWait 250 ms, TLS jitter 100 ms,
 * unlimited attempts → ~30 ms after a server is killed).
 *
 * Credential renewal is make-before-break: `renew()` opens a second connection with the new JWT
 * and certificate, re-creates every subscription on it, flushes, switches over and drains the old
 * one. No subscription is lost; a message may arrive on both during the overlap (the channel's
 * replay check drops the copy).
 */
import {
  connect,
  jwtAuthenticator,
  type Msg,
  type NatsConnection,
  type RequestOptions,
  type Subscription,
} from "nats";
import { ControlError } from "./errors.ts";

/* Implementation constants */
export const RECONNECT_TIME_WAIT_MS = 250;
export const RECONNECT_JITTER_MS = 50;
export const RECONNECT_JITTER_TLS_MS = 100;
export const CONNECT_TIMEOUT_MS = 5_000;
export const PING_INTERVAL_MS = 10_000;
export const MAX_PINGS_OUT = 2;

/** A node's control-plane credentials. `seed` and `keyPem` are secrets. */
export interface ControlCredentials {
  /** NATS user JWT (signed by the realm account). */
  readonly jwt: string;
  /** The user's nkey seed ("SU…"). */
  readonly seed: string;
  /** mTLS client certificate and its PKCS#8 key (PEM). */
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ControlConnectOptions {
  /** e.g. ["tls://10.0.0.1:4222", …] — list servers of several clusters. */
  readonly servers: readonly string[];
  /** CA that issued the servers' certificates (PEM). */
  readonly caPem: string;
  readonly credentials: ControlCredentials;
  /** Connection name shown in server monitoring. */
  readonly name?: string;
  /** Reply inbox prefix (must match the user's subscribe permissions, e.g. `_INBOX.<node id>`). */
  readonly inboxPrefix?: string;
  readonly reconnectTimeWaitMs?: number;
  /** Dial `servers` in the given order (nearest first) instead of shuffling them. */
  readonly noRandomize?: boolean;
  readonly timeoutMs?: number;
}

export type ConnectionEvent =
  | { type: "disconnect"; server: string; atMs: number }
  | { type: "reconnect"; server: string; atMs: number; downMs: number }
  | { type: "renewed"; server: string; atMs: number }
  | { type: "error"; message: string; atMs: number };

export type MessageHandler = (msg: Msg) => void;

interface SubSpec {
  readonly subject: string;
  readonly queue?: string;
  readonly handler: MessageHandler;
  sub: Subscription;
}

export class ControlConnection {
  readonly #opts: ControlConnectOptions;
  readonly #subs = new Set<SubSpec>();
  readonly #listeners = new Set<(e: ConnectionEvent) => void>();
  #creds: ControlCredentials;
  #nc: NatsConnection;
  #disconnectedAt: number | undefined;
  #closed = false;
  reconnects = 0;

  private constructor(opts: ControlConnectOptions, nc: NatsConnection) {
    this.#opts = opts;
    this.#creds = opts.credentials;
    this.#nc = nc;
    this.#watch(nc);
  }

  static async connect(opts: ControlConnectOptions): Promise<ControlConnection> {
    if (opts.servers.length === 0) throw new ControlError("CONTROL_NO_SERVERS", "no Master servers given");
    let holder: ControlConnection | undefined;
    const creds = () => holder?.credentials ?? opts.credentials;
    const nc = await open(opts, creds);
    holder = new ControlConnection(opts, nc);
    return holder;
  }

  get credentials(): ControlCredentials {
    return this.#creds;
  }

  /** The live NATS connection (changes on renew; do not keep it). */
  get nc(): NatsConnection {
    return this.#nc;
  }

  /** The server this connection is attached to (host:port). */
  get server(): string {
    return this.#nc.getServer();
  }

  onEvent(listener: (e: ConnectionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Subscribes; the subscription is re-created on renewal. Returns an unsubscribe function. */
  subscribe(subject: string, handler: MessageHandler, queue?: string): () => void {
    const spec: SubSpec = { subject, handler, sub: this.#attach(this.#nc, subject, handler, queue) };
    if (queue !== undefined) Object.assign(spec, { queue });
    this.#subs.add(spec);
    return () => {
      this.#subs.delete(spec);
      spec.sub.unsubscribe();
    };
  }

  publish(subject: string, data: Uint8Array, reply?: string): void {
    this.#nc.publish(subject, data, reply === undefined ? undefined : { reply });
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Msg> {
    const opts: RequestOptions = { timeout: timeoutMs };
    try {
      return await this.#nc.request(subject, data, opts);
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      if (code === "503")
        throw new ControlError("CONTROL_NO_RESPONDERS", `no responders on ${subject}`, { cause });
      if (code === "TIMEOUT")
        throw new ControlError("CONTROL_TIMEOUT", `request on ${subject} timed out`, { cause });
      throw new ControlError("CONTROL_REQUEST", `request on ${subject} failed`, { cause });
    }
  }

  async flush(): Promise<void> {
    await this.#nc.flush();
  }

  /**
   * Switches to new credentials without losing a subscription: connect with `creds`, re-subscribe,
   * flush, switch, drain the old connection. The authenticator of both connections then reads
   * `creds`, so any later reconnect also presents them.
   */
  async renew(creds: ControlCredentials): Promise<void> {
    const previous = this.#creds;
    this.#creds = creds;
    let next: NatsConnection;
    try {
      next = await open(this.#opts, () => this.#creds);
    } catch (cause) {
      this.#creds = previous;
      throw cause;
    }
    for (const spec of this.#subs) spec.sub = this.#attach(next, spec.subject, spec.handler, spec.queue);
    await next.flush();
    const old = this.#nc;
    this.#nc = next;
    this.#watch(next);
    this.#emit({ type: "renewed", server: next.getServer(), atMs: performance.now() });
    await old.drain().catch(() => {});
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#nc.drain().catch(() => this.#nc.close());
  }

  #attach(nc: NatsConnection, subject: string, handler: MessageHandler, queue?: string): Subscription {
    return nc.subscribe(subject, {
      ...(queue === undefined ? {} : { queue }),
      callback: (err, msg) => {
        if (err) {
          this.#emit({ type: "error", message: err.message, atMs: performance.now() });
          return;
        }
        handler(msg);
      },
    });
  }

  #watch(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (nc !== this.#nc) return;
        const atMs = performance.now();
        if (s.type === "disconnect") {
          this.#disconnectedAt = atMs;
          this.#emit({ type: "disconnect", server: String(s.data), atMs });
        } else if (s.type === "reconnect") {
          this.reconnects++;
          const downMs = this.#disconnectedAt === undefined ? 0 : atMs - this.#disconnectedAt;
          this.#disconnectedAt = undefined;
          this.#emit({ type: "reconnect", server: String(s.data), atMs, downMs });
        } else if (s.type === "error") {
          this.#emit({ type: "error", message: String(s.data), atMs });
        }
      }
    })().catch(() => {});
    void nc.closed().then((err) => {
      if (nc === this.#nc && !this.#closed && err) {
        this.#emit({ type: "error", message: `connection closed: ${err.message}`, atMs: performance.now() });
      }
    });
  }

  #emit(e: ConnectionEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

async function open(opts: ControlConnectOptions, creds: () => ControlCredentials): Promise<NatsConnection> {
  // nats.js reads `tls` on every (re)connect: getters hand it the newest certificate.
  const tls = {
    ca: opts.caPem,
    get cert() {
      return creds().certPem;
    },
    get key() {
      return creds().keyPem;
    },
  };
  const te = new TextEncoder();
  try {
    return await connect({
      servers: [...opts.servers],
      name: opts.name ?? "veilnet",
      tls,
      authenticator: jwtAuthenticator(
        () => creds().jwt,
        () => te.encode(creds().seed),
      ),
      ...(opts.inboxPrefix === undefined ? {} : { inboxPrefix: opts.inboxPrefix }),
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? RECONNECT_TIME_WAIT_MS,
      reconnectJitter: RECONNECT_JITTER_MS,
      reconnectJitterTLS: RECONNECT_JITTER_TLS_MS,
      timeout: opts.timeoutMs ?? CONNECT_TIMEOUT_MS,
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: MAX_PINGS_OUT,
      waitOnFirstConnect: false,
      noRandomize: opts.noRandomize ?? false,
      ignoreClusterUpdates: true,
    });
  } catch (cause) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    throw new ControlError("CONTROL_CONNECT", `cannot connect to Master: ${msg}`, { cause });
  }
}
