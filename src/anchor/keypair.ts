/**
 * One direction-pair of transport keys as installed from a handshake: AEAD contexts, the send
 * counter, the receive replay window and the two nonce scratch buffers. Owned by a Session.
 */
import type { AeadBackend, AeadContext } from "./aead/aead.ts";
import { AEAD_KEY_SIZE } from "./aead/aead.ts";
import { ReplayFilter } from "./replay.ts";
import type { SessionKeys } from "./session-keys.ts";
import { CounterNonce } from "./transport.ts";
import { SessionError } from "./transport-errors.ts";

export class Keypair {
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly isInitiator: boolean;
  readonly createdAt: number;
  readonly send: AeadContext;
  readonly recv: AeadContext;
  readonly sendNonce = new CounterNonce();
  readonly recvNonce = new CounterNonce();
  readonly replay = new ReplayFilter();
  /** Next counter to send with. */
  sendCounter = 0;
  /** Authenticated messages received under this keypair. */
  received = 0;

  constructor(backend: AeadBackend, keys: SessionKeys) {
    if (keys.sendKey.length !== AEAD_KEY_SIZE || keys.recvKey.length !== AEAD_KEY_SIZE) {
      throw new SessionError("SESSION_BAD_KEY", "session keys must be 32 bytes each");
    }
    for (const index of [keys.localIndex, keys.remoteIndex]) {
      if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
        throw new SessionError("SESSION_BAD_INDEX", "session indexes must be u32");
      }
    }
    if (!Number.isFinite(keys.establishedAt)) {
      throw new SessionError("SESSION_BAD_TIME", "establishedAt must be a finite time in ms");
    }
    this.localIndex = keys.localIndex;
    this.remoteIndex = keys.remoteIndex;
    this.isInitiator = keys.isInitiator;
    this.createdAt = keys.establishedAt;
    this.send = backend.create(keys.sendKey);
    this.recv = backend.create(keys.recvKey);
  }

  destroy(): void {
    this.send.destroy();
    this.recv.destroy();
  }
}
