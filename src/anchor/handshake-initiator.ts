/**
 * The initiator's state machine for one handshake with one peer whose certificate it already has
 * (from the peer's presence on the control plane).
 *
 *   start(now) ──send initiation──▶ WAITING ──valid response──▶ ESTABLISHED
 *                                    │  ▲ cookie reply: resend the same fragments with mac2
 *                                    │  └ tick(now) ≥ deadline: new attempt (fresh keys, fresh id)
 *                                    └ tick(now) after REKEY_ATTEMPT_TIME ──▶ FAILED (HandshakeTimeout)
 *
 * Each attempt uses a fresh sender index, which is also the handshake id the responder echoes in
 * its response fragments and cookie replies; `handshakeId` is the current one, for routing.
 */
import { u32le } from "./_bytes.ts";
import type { Certificate } from "./certificate.ts";
import { checkPolicy, verifyCertificate } from "./certificate-verify.ts";
import {
  COOKIE_USE_LIFETIME_MS,
  checkMac1,
  cookieKey,
  mac1Key,
  mac1Of,
  mac2IsZero,
  openCookieReply,
  parseCookieReply,
  writeMac1,
  writeMac2,
} from "./cookie.ts";
import { AnchorError, HandshakeConfigError, HandshakeMalformed, HandshakeTimeout } from "./errors.ts";
import { encodeFragments, parseFragment } from "./fragment.ts";
import { Reassembler } from "./fragment-reassembly.ts";
import { encodeInitiation, parseResponse } from "./handshake-messages.ts";
import {
  LABEL_INIT_SS,
  LABEL_INIT_STATIC,
  LABEL_RESP_EPHEMERAL,
  LABEL_RESP_STATIC,
  SymmetricState,
} from "./handshake-symmetric.ts";
import {
  type HandshakeLocal,
  type HandshakeOutput,
  processTimestamps,
  REKEY_ATTEMPT_TIME_MS,
  REKEY_TIMEOUT_JITTER_MS,
  REKEY_TIMEOUT_MS,
  seconds,
} from "./handshake-types.ts";
import { EphemeralMlKem768, EphemeralX25519, MlKemRecipient } from "./identity.ts";
import { MsgType } from "./message-type.ts";
import { randomIndex, systemRng } from "./rng.ts";

/* Implementation constants */
const RESPONSE_REASSEMBLY = Object.freeze({
  maxBytesPerSource: 8 * 1024,
  maxAssembliesPerSource: 2,
  maxBytesTotal: 16 * 1024,
  timeoutMs: 3000,
});

interface Attempt {
  readonly id: number;
  readonly state: SymmetricState;
  readonly ephemeralX: EphemeralX25519;
  readonly ephemeralKem: EphemeralMlKem768;
  readonly datagrams: Uint8Array[];
  cookieUsed: boolean;
}

export type InitiatorState = "idle" | "waiting" | "established" | "failed";

export class HandshakeInitiator {
  readonly peer: Certificate;
  #state: InitiatorState = "idle";
  #attempt: Attempt | undefined;
  #firstStart = 0;
  #deadline = Number.POSITIVE_INFINITY;
  #cookie: { value: Uint8Array; at: number } | undefined;
  readonly #rng;
  readonly #peerKem: MlKemRecipient;
  readonly #toPeerMac1: Uint8Array;
  readonly #ownMac1: Uint8Array;
  readonly #peerCookieKey: Uint8Array;
  readonly #reassembly = new Reassembler(RESPONSE_REASSEMBLY);

  /** Verifies the peer's certificate (throws its typed Certificate* error) and prepares its keys. */
  constructor(
    readonly local: HandshakeLocal,
    peerCertificate: Certificate | Uint8Array,
    now: number,
  ) {
    const own = local.certificate.publicKeys;
    const id = local.identity.publicKeys;
    if (own.x25519.some((b, i) => b !== id.x25519[i]) || own.mlkem768.some((b, i) => b !== id.mlkem768[i])) {
      throw new HandshakeConfigError("HANDSHAKE_OWN_CERT", "own certificate does not match own identity");
    }
    this.peer = verifyCertificate(peerCertificate, { ...local.trust, now: seconds(now) });
    this.#rng = local.rng ?? systemRng;
    this.#peerKem = new MlKemRecipient(this.peer.publicKeys.mlkem768);
    this.#toPeerMac1 = mac1Key(this.peer.publicKeys);
    this.#ownMac1 = mac1Key(own);
    this.#peerCookieKey = cookieKey(this.peer.publicKeys);
  }

  get state(): InitiatorState {
    return this.#state;
  }
  /** The current attempt's handshake id (our sender index); 0 before start. */
  get handshakeId(): number {
    return this.#attempt?.id ?? 0;
  }
  /** When `tick` next has work to do. */
  get deadline(): number {
    return this.#deadline;
  }

  /** Builds the first initiation. */
  start(now: number): HandshakeOutput {
    if (this.#state !== "idle") return { kind: "dropped", reason: "already-started" };
    this.#firstStart = now;
    this.#state = "waiting";
    return this.#newAttempt(now);
  }

  /** Retransmits after REKEY_TIMEOUT, gives up after REKEY_ATTEMPT_TIME. */
  tick(now: number): HandshakeOutput {
    this.#reassembly.expire(now);
    if (this.#state !== "waiting" || now < this.#deadline) return { kind: "pending" };
    if (now - this.#firstStart >= REKEY_ATTEMPT_TIME_MS) return this.#fail();
    this.#cookie = undefined; // it may be bound to an address we no longer have
    return this.#newAttempt(now);
  }

  /** Handles a HandshakeResponse fragment or a CookieReply addressed to this handshake. */
  receive(d: Uint8Array, now: number, source = "responder"): HandshakeOutput {
    const attempt = this.#attempt;
    if (this.#state !== "waiting" || attempt === undefined) return { kind: "dropped", reason: "not-waiting" };
    try {
      if (d[0] === MsgType.CookieReply) return this.#onCookie(d, attempt, now);
      const f = parseFragment(d);
      if (f.type !== MsgType.HandshakeResponse) return { kind: "dropped", reason: "wrong-type" };
      if (f.handshakeId !== attempt.id) return { kind: "dropped", reason: "unknown-handshake" };
      if (!checkMac1(this.#ownMac1, d)) return { kind: "dropped", reason: "mac1" };
      if (!mac2IsZero(d)) return { kind: "dropped", reason: "mac2" };
      const message = this.#reassembly.add(source, f, now);
      if (message === undefined) return { kind: "pending" };
      return this.#onResponse(message, attempt, now);
    } catch (e) {
      if (e instanceof AnchorError) return { kind: "dropped", reason: e.code };
      throw e;
    }
  }

  #newAttempt(now: number): HandshakeOutput {
    const { identity, certificate, indexInUse } = this.local;
    let id = randomIndex(this.#rng);
    while (indexInUse?.(id)) id = randomIndex(this.#rng);
    const st = SymmetricState.start(this.peer.id);
    const ephemeralX = new EphemeralX25519(this.#rng);
    const ephemeralKem = new EphemeralMlKem768(this.#rng);
    st.mixHash(u32le(id), ephemeralX.publicKey, ephemeralKem.publicKey);
    const kem = this.#peerKem.encapsulate(this.#rng);
    st.mixHash(kem.cipherText);
    const k1 = st.mixKey(LABEL_INIT_STATIC, ephemeralX.shared(this.peer.publicKeys.x25519), kem.sharedSecret);
    const sealedCertificate = st.seal(k1, certificate.bytes);
    st.mixHash(certificate.id);
    const k2 = st.mixKey(LABEL_INIT_SS, identity.x25519(this.peer.publicKeys.x25519));
    const ts = new Uint8Array(8);
    new DataView(ts.buffer).setBigUint64(
      0,
      BigInt((this.local.timestamps ?? processTimestamps).next(now)),
      true,
    );
    const sealedTimestamp = st.seal(k2, ts);
    const body = encodeInitiation({
      sender: id,
      ephemeralX25519: ephemeralX.publicKey,
      ephemeralMlKem: ephemeralKem.publicKey,
      staticCiphertext: kem.cipherText,
      sealedCertificate,
      sealedTimestamp,
    });
    const datagrams = encodeFragments(MsgType.HandshakeInitiation, id, body);
    for (const d of datagrams) writeMac1(this.#toPeerMac1, d);
    this.#attempt?.ephemeralKem.wipe();
    const attempt: Attempt = { id, state: st, ephemeralX, ephemeralKem, datagrams, cookieUsed: false };
    this.#attempt = attempt;
    this.#deadline = now + REKEY_TIMEOUT_MS + jitter(this.#rng);
    return { kind: "send", datagrams: this.#withMac2(attempt, now) };
  }

  #withMac2(attempt: Attempt, now: number): Uint8Array[] {
    const fresh = this.#cookie !== undefined && now - this.#cookie.at < COOKIE_USE_LIFETIME_MS;
    for (const d of attempt.datagrams) writeMac2(fresh ? this.#cookie?.value : undefined, d);
    return attempt.datagrams.map((d) => Uint8Array.from(d));
  }

  #onCookie(d: Uint8Array, attempt: Attempt, now: number): HandshakeOutput {
    const reply = parseCookieReply(d);
    if (reply.handshakeId !== attempt.id) return { kind: "dropped", reason: "unknown-handshake" };
    if (attempt.cookieUsed) return { kind: "dropped", reason: "cookie-already-used" };
    const first = attempt.datagrams[0] as Uint8Array;
    const cookie = openCookieReply(reply, this.#peerCookieKey, mac1Of(first));
    attempt.cookieUsed = true;
    this.#cookie = { value: cookie, at: now };
    this.#deadline = now + REKEY_TIMEOUT_MS + jitter(this.#rng);
    return { kind: "send", datagrams: this.#withMac2(attempt, now) };
  }

  #onResponse(message: Uint8Array, attempt: Attempt, now: number): HandshakeOutput {
    const r = parseResponse(message);
    if (r.receiver !== attempt.id) {
      throw new HandshakeMalformed("HANDSHAKE_RECEIVER", "response names another handshake");
    }
    const st = attempt.state.clone();
    let keys: { initiatorToResponder: Uint8Array; responderToInitiator: Uint8Array };
    try {
      st.mixHash(u32le(r.sender), u32le(r.receiver), r.ephemeralX25519);
      st.mixHash(r.ephemeralCiphertext);
      const ke = attempt.ephemeralKem.decapsulate(r.ephemeralCiphertext);
      st.mixKey(LABEL_RESP_EPHEMERAL, attempt.ephemeralX.shared(r.ephemeralX25519), ke);
      st.mixHash(r.staticCiphertext);
      const ks = this.local.identity.decapsulate(r.staticCiphertext);
      const k3 = st.mixKey(LABEL_RESP_STATIC, this.local.identity.x25519(r.ephemeralX25519), ks);
      st.open(k3, r.confirmation);
      keys = st.split();
    } catch (e) {
      if (e instanceof AnchorError) return { kind: "rejected", error: e };
      throw e;
    }
    try {
      checkPolicy(this.peer, { ...this.local.trust, now: seconds(now) }); // revoked or expired meanwhile?
    } catch (e) {
      if (e instanceof AnchorError) return { kind: "rejected", error: e };
      throw e;
    }
    attempt.ephemeralKem.wipe();
    this.#state = "established";
    this.#deadline = Number.POSITIVE_INFINITY;
    return {
      kind: "established",
      datagrams: [],
      peer: this.peer,
      keys: {
        localIndex: attempt.id,
        remoteIndex: r.sender,
        sendKey: keys.initiatorToResponder,
        recvKey: keys.responderToInitiator,
        isInitiator: true,
        peerNodeId: this.peer.nodeId,
        establishedAt: now,
      },
    };
  }

  #fail(): HandshakeOutput {
    this.#state = "failed";
    this.#deadline = Number.POSITIVE_INFINITY;
    this.#attempt?.ephemeralKem.wipe();
    return { kind: "failed", error: new HandshakeTimeout("HANDSHAKE_TIMEOUT", "no response within 90 s") };
  }
}

function jitter(rng: (n: number) => Uint8Array): number {
  const b = rng(2);
  return (((b[0] as number) << 8) | (b[1] as number)) % (REKEY_TIMEOUT_JITTER_MS + 1);
}
