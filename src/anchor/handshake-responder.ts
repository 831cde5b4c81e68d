/**
 * The responder: one per node, long-lived. It answers HandshakeInitiation fragments from anyone.
 *
 * Per datagram, cheapest check first:
 *   1. framing (parseFragment)                         → drop
 *   2. mac1 keyed by our static keys                   → drop
 *   3. mac2: under load it must be valid, else fragment 0 gets a cookie reply and the rest is dropped
 *      (no reassembly memory, no KEM work); not under load it must be zero or valid
 *   4. bounded reassembly                              → pending
 *   5. the whole initiation: decapsulate, decrypt and verify the initiator's certificate, check the
 *      timestamp against replay, then answer with a response and hand out session keys.
 */
import { toHex, u32le } from "./_bytes.ts";
import type { Certificate } from "./certificate.ts";
import { verifyCertificate } from "./certificate-verify.ts";
import { CookieChecker, checkMac1, mac1Key, mac2IsZero, writeMac1, writeMac2 } from "./cookie.ts";
import { AnchorError, HandshakeConfigError, HandshakeMalformed, HandshakeReplay } from "./errors.ts";
import { encodeFragments, parseFragment } from "./fragment.ts";
import { DEFAULT_REASSEMBLY_LIMITS, Reassembler, type ReassemblyLimits } from "./fragment-reassembly.ts";
import { encodeResponse, parseInitiation } from "./handshake-messages.ts";
import {
  LABEL_INIT_SS,
  LABEL_INIT_STATIC,
  LABEL_RESP_EPHEMERAL,
  LABEL_RESP_STATIC,
  SymmetricState,
} from "./handshake-symmetric.ts";
import { type HandshakeLocal, type HandshakeOutput, seconds } from "./handshake-types.ts";
import { EphemeralX25519, MlKemRecipient, mlKemEncapsulate } from "./identity.ts";
import { MsgType } from "./message-type.ts";
import { randomIndex, systemRng } from "./rng.ts";

/* Implementation constants */
export const MAX_REPLAY_ENTRIES = 65_536;

export interface ResponderStats {
  /** ML-KEM decapsulations with our static key: the expensive step cookies protect. */
  decapsulations: number;
  cookieReplies: number;
  established: number;
  dropped: Record<string, number>;
  rejected: Record<string, number>;
}

export class HandshakeResponder {
  readonly stats: ResponderStats = {
    decapsulations: 0,
    cookieReplies: 0,
    established: 0,
    dropped: {},
    rejected: {},
  };
  readonly reassembly: Reassembler;
  readonly #cookies: CookieChecker;
  readonly #mac1: Uint8Array;
  readonly #rng;
  readonly #lastTimestamp = new Map<string, number>();
  readonly #recipients = new WeakMap<Certificate, MlKemRecipient>();

  constructor(
    readonly local: HandshakeLocal,
    now: number,
    limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS,
  ) {
    const own = local.certificate.publicKeys;
    const id = local.identity.publicKeys;
    if (own.x25519.some((b, i) => b !== id.x25519[i]) || own.mlkem768.some((b, i) => b !== id.mlkem768[i])) {
      throw new HandshakeConfigError("HANDSHAKE_OWN_CERT", "own certificate does not match own identity");
    }
    this.#rng = local.rng ?? systemRng;
    this.#cookies = new CookieChecker(own, this.#rng, now);
    this.#mac1 = mac1Key(own);
    this.reassembly = new Reassembler(limits);
  }

  /**
   * Handles one HandshakeInitiation datagram from `source` (an opaque address string such as
   * "198.18.0.2:7000", used for cookies and per-source limits). Never throws on network input.
   */
  receive(d: Uint8Array, source: string, now: number, underLoad = false): HandshakeOutput {
    let f: ReturnType<typeof parseFragment>;
    try {
      f = parseFragment(d);
    } catch (e) {
      return this.#drop(e instanceof AnchorError ? e.code : "malformed");
    }
    if (f.type !== MsgType.HandshakeInitiation) return this.#drop("wrong-type");
    if (!checkMac1(this.#mac1, d)) return this.#drop("mac1");
    const mac2Ok = this.#cookies.validMac2(d, source, now);
    if (underLoad && !mac2Ok) {
      if (f.index !== 0) return this.#drop("mac2-under-load");
      this.stats.cookieReplies++;
      return { kind: "send", datagrams: [this.#cookies.makeReply(d, source, now)] };
    }
    if (!mac2Ok && !mac2IsZero(d)) return this.#drop("mac2");
    const message = this.reassembly.add(source, f, now);
    if (message === undefined) return { kind: "pending" };
    try {
      const out = this.#onInitiation(message, f.handshakeId, now);
      this.stats.established++;
      return out;
    } catch (e) {
      if (!(e instanceof AnchorError)) throw e;
      this.stats.rejected[e.name] = (this.stats.rejected[e.name] ?? 0) + 1;
      return { kind: "rejected", error: e };
    }
  }

  #onInitiation(message: Uint8Array, handshakeId: number, now: number): HandshakeOutput {
    const { identity, certificate, trust } = this.local;
    const m = parseInitiation(message);
    if (m.sender !== handshakeId)
      throw new HandshakeMalformed("HANDSHAKE_SENDER", "sender is not the handshake id");
    const st = SymmetricState.start(certificate.id);
    st.mixHash(u32le(m.sender), m.ephemeralX25519, m.ephemeralMlKem);
    st.mixHash(m.staticCiphertext);
    this.stats.decapsulations++;
    const ks = identity.decapsulate(m.staticCiphertext);
    const k1 = st.mixKey(LABEL_INIT_STATIC, identity.x25519(m.ephemeralX25519), ks);
    const certBytes = st.open(k1, m.sealedCertificate);
    const peer = verifyCertificate(certBytes, { ...trust, now: seconds(now) });
    st.mixHash(peer.id);
    const k2 = st.mixKey(LABEL_INIT_SS, identity.x25519(peer.publicKeys.x25519));
    const ts = st.open(k2, m.sealedTimestamp);
    const timestamp = Number(new DataView(ts.buffer, ts.byteOffset, 8).getBigUint64(0, true));
    this.#checkReplay(peer.nodeId, timestamp);

    let sender = randomIndex(this.#rng);
    while (this.local.indexInUse?.(sender)) sender = randomIndex(this.#rng);
    const ephemeralX = new EphemeralX25519(this.#rng);
    st.mixHash(u32le(sender), u32le(m.sender), ephemeralX.publicKey);
    const ke = mlKemEncapsulate(m.ephemeralMlKem, this.#rng);
    st.mixHash(ke.cipherText);
    st.mixKey(LABEL_RESP_EPHEMERAL, ephemeralX.shared(m.ephemeralX25519), ke.sharedSecret);
    const kp = this.#recipient(peer).encapsulate(this.#rng);
    st.mixHash(kp.cipherText);
    const k3 = st.mixKey(LABEL_RESP_STATIC, ephemeralX.shared(peer.publicKeys.x25519), kp.sharedSecret);
    const confirmation = st.seal(k3, new Uint8Array(0));
    const keys = st.split();

    const body = encodeResponse({
      sender,
      receiver: m.sender,
      ephemeralX25519: ephemeralX.publicKey,
      ephemeralCiphertext: ke.cipherText,
      staticCiphertext: kp.cipherText,
      confirmation,
    });
    const datagrams = encodeFragments(MsgType.HandshakeResponse, m.sender, body);
    const toPeer = mac1Key(peer.publicKeys);
    for (const d of datagrams) {
      writeMac1(toPeer, d);
      writeMac2(undefined, d);
    }
    return {
      kind: "established",
      datagrams,
      peer,
      keys: {
        localIndex: sender,
        remoteIndex: m.sender,
        sendKey: keys.responderToInitiator,
        recvKey: keys.initiatorToResponder,
        isInitiator: false,
        peerNodeId: peer.nodeId,
        establishedAt: now,
      },
    };
  }

  #checkReplay(nodeId: Uint8Array, timestamp: number): void {
    const key = toHex(nodeId);
    const last = this.#lastTimestamp.get(key);
    if (last !== undefined && timestamp <= last) {
      throw new HandshakeReplay("HANDSHAKE_REPLAY", "initiation timestamp is not newer than the last one");
    }
    this.#lastTimestamp.delete(key);
    this.#lastTimestamp.set(key, timestamp);
    if (this.#lastTimestamp.size > MAX_REPLAY_ENTRIES) {
      this.#lastTimestamp.delete(this.#lastTimestamp.keys().next().value as string);
    }
  }

  #recipient(peer: Certificate): MlKemRecipient {
    let r = this.#recipients.get(peer);
    if (r === undefined) {
      r = new MlKemRecipient(peer.publicKeys.mlkem768);
      this.#recipients.set(peer, r);
    }
    return r;
  }

  #drop(reason: string): HandshakeOutput {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
    return { kind: "dropped", reason };
  }
}
