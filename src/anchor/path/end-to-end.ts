/**
 * The end-to-end session inside a path is an ordinary Anchor handshake between the two ends, run
 * over HANDSHAKE cells. The path code depends only on this interface; `AnchorEndToEnd` adapts the
 * real handshake (handshake.ts) to it, and tests may substitute another key source.
 */
import type { Certificate } from "../certificate.ts";
import {
  HandshakeInitiator,
  type HandshakeLocal,
  type HandshakeOutput,
  HandshakeResponder,
} from "../handshake.ts";
import type { SessionKeys } from "../session-keys.ts";
import { PathError } from "./errors.ts";

/** One step of a handshake conversation. */
export interface E2EStep {
  /** Datagrams to carry to the other end (each ≤ MAX_HANDSHAKE_DATAGRAM). */
  readonly send: readonly Uint8Array[];
  /** Set once the handshake completed on this side. */
  readonly keys: SessionKeys | null;
  /** The initiator gave up (it will not retry). */
  readonly failed: boolean;
}

export interface EndToEndInitiator {
  /** The datagrams that open the handshake. */
  readonly first: readonly Uint8Array[];
  receive(datagram: Uint8Array, now: number): E2EStep;
  /** Retransmission / give-up timer. */
  tick(now: number): E2EStep;
}

export interface EndToEndHandshake {
  /** Starts a handshake to the node `peerNodeId` (throws PathError if it cannot be addressed). */
  initiate(peerNodeId: Uint8Array, now: number): EndToEndInitiator;
  /** Handles one initiation datagram arriving over a path; `source` names the path for reassembly. */
  respond(datagram: Uint8Array, source: string, now: number): E2EStep;
}

const NOTHING: E2EStep = Object.freeze({ send: [], keys: null, failed: false });

function stepOf(o: HandshakeOutput): E2EStep {
  switch (o.kind) {
    case "send":
      return { send: o.datagrams, keys: null, failed: false };
    case "established":
      return { send: o.datagrams, keys: o.keys, failed: false };
    case "failed":
      return { send: [], keys: null, failed: true };
    default:
      return NOTHING;
  }
}

/** The real Anchor handshake (hybrid X25519 + ML-KEM-768, certificates) as an EndToEndHandshake. */
export class AnchorEndToEnd implements EndToEndHandshake {
  readonly #local: HandshakeLocal;
  readonly #certificateOf: (nodeId: Uint8Array) => Certificate | Uint8Array | null;
  readonly #responder: HandshakeResponder;

  constructor(
    local: HandshakeLocal,
    certificateOf: (nodeId: Uint8Array) => Certificate | Uint8Array | null,
    now: number,
  ) {
    this.#local = local;
    this.#certificateOf = certificateOf;
    this.#responder = new HandshakeResponder(local, now);
  }

  initiate(peerNodeId: Uint8Array, now: number): EndToEndInitiator {
    const cert = this.#certificateOf(peerNodeId);
    if (cert === null) throw new PathError("PATH_UNKNOWN_PEER", "no certificate for the path's destination");
    const initiator = new HandshakeInitiator(this.#local, cert, now);
    const first = stepOf(initiator.start(now)).send;
    return {
      first,
      receive: (d, t) => stepOf(initiator.receive(d, t, "path")),
      tick: (t) => stepOf(initiator.tick(t)),
    };
  }

  respond(datagram: Uint8Array, source: string, now: number): E2EStep {
    return stepOf(this.#responder.receive(datagram, source, now));
  }
}
