/**
 * What a completed handshake hands to the transport: the contract between handshake.ts and
 * session.ts (and the native data plane, which receives the same keys through shared memory).
 */
export interface SessionKeys {
  /** u32 we chose; the peer writes it in the receiver field of every message to us. */
  readonly localIndex: number;
  /** u32 the peer chose; we write it in the receiver field of every message to the peer. */
  readonly remoteIndex: number;
  /** 32-byte AES-256-GCM key for messages we send. */
  readonly sendKey: Uint8Array;
  /** 32-byte AES-256-GCM key for messages we receive. */
  readonly recvKey: Uint8Array;
  readonly isInitiator: boolean;
  /** The peer's node id (SHA-256 of its public keys), from its verified certificate. */
  readonly peerNodeId: Uint8Array;
  /** Milliseconds on the caller's clock when the keys were derived (rekey and expiry timers start here). */
  readonly establishedAt: number;
}
