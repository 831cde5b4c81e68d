/**
 * Per-peer state of the embedded plane: endpoint, certified inner sources, one send key and two
 * receive keys (the one installed last and the one before it, as in the native plane, so packets
 * sealed before the peer switched keys still open), and the counters `peerStats` reports.
 */
import type { AeadBackend, AeadContext } from "../../../anchor/aead/aead.ts";
import { ReplayFilter } from "../../../anchor/replay.ts";
import { CounterNonce } from "../../../anchor/transport.ts";
import { parsePrefix } from "../../../ffi/inet.ts";
import type { Endpoint } from "../../../ffi/udp.ts";
import { EmbeddedConfigError } from "./errors.ts";

/* Specification constants */
export const KEY_SIZE = 32;

export class SendKey {
  readonly nonce = new CounterNonce();
  counter = 0;
  constructor(
    readonly ctx: AeadContext,
    readonly receiver: number,
  ) {}
}

export class RecvKey {
  readonly nonce = new CounterNonce();
  readonly replay = new ReplayFilter();
  constructor(
    readonly ctx: AeadContext,
    readonly index: number,
  ) {}
}

/** An allowed inner source prefix, or none (`len` = -1 refuses every source of that family). */
export interface Allowed {
  readonly net: Uint8Array;
  readonly len: number;
}

export const NONE: Allowed = { net: new Uint8Array(16), len: -1 };

export class PeerSlot {
  endpoint: Endpoint;
  v4: Allowed;
  v6: Allowed;
  send: SendKey | null = null;
  /** recv[current] was installed last; recv[1 - current] is the one before. */
  readonly recv: (RecvKey | null)[] = [null, null];
  current = 0;
  txPackets = 0;
  txBytes = 0;
  txNoKey = 0;
  rxPackets = 0;
  rxBytes = 0;
  rxAuthenticated = 0;
  lastRxWhich = -1;
  lastRxEndpoint: Endpoint | null = null;

  constructor(endpoint: Endpoint, v4: Allowed, v6: Allowed) {
    this.endpoint = endpoint;
    this.v4 = v4;
    this.v6 = v6;
  }

  /** Wipes every key (contexts destroyed). */
  clear(): void {
    this.send?.ctx.destroy();
    this.send = null;
    for (let i = 0; i < 2; i++) {
      this.recv[i]?.ctx.destroy();
      this.recv[i] = null;
    }
  }
}

export function allowedPrefix(prefix: string | undefined, family: 4 | 6): Allowed {
  if (prefix === undefined) return NONE;
  let p: ReturnType<typeof parsePrefix>;
  try {
    p = parsePrefix(prefix);
  } catch (e) {
    throw new EmbeddedConfigError("EMB_BAD_ALLOWED", `not an IP prefix: '${prefix}'`, { cause: e });
  }
  if (p.family !== family) throw new EmbeddedConfigError("EMB_BAD_ALLOWED", `not IPv${family}: ${prefix}`);
  return { net: p.bytes, len: p.prefixLen };
}

export function createKey(backend: AeadBackend, key: Uint8Array, what: string): AeadContext {
  if (key.length !== KEY_SIZE) throw new EmbeddedConfigError("EMB_BAD_KEY", `${what} must be 32 bytes`);
  return backend.create(key);
}

export function checkIndex(index: number, what: string): void {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
    throw new EmbeddedConfigError("EMB_BAD_INDEX", `${what} must be a u32, got ${index}`);
  }
}
