/**
 * The node's view of its realm: peers learned from signed presence, the signalling that brings
 * two nodes to dial each other (hole punching), and the sessions installed in the packet plane.
 *
 * Who dials: of two nodes, the one with the lower node id offers (sealed signal with its candidate
 * endpoints); the other answers with its own candidates and punches towards the offerer; the
 * offerer then dials every answered candidate at once. The node that initiated a session also
 * rekeys it. Offers leave from tick(), never from inside onPresence(), so that the presence the
 * node echoes to a newcomer reaches it before the offer does (a signal from a sender it does not
 * know yet would be dropped). Liveness: keepalives every KEEPALIVE_MS; a session that has received
 * nothing for DEAD_AFTER_MS is torn down and offered again. A presence whose epoch differs from the
 * last one seen means the peer lost its session keys (it restarted, or dropped every session): the
 * session is torn down at once and offered again, instead of after DEAD_AFTER_MS of silence;
 * either side re-dials the peer's last endpoint at once.
 */

import { formatIPv6 } from "../../anchor/address6.ts";
import type { Certificate } from "../../anchor/certificate.ts";
import { formatIPv4 } from "../../anchor/certificate.ts";
import { verifyCertificate } from "../../anchor/certificate-verify.ts";
import type { Established, PeerPolicy } from "../../anchor/handshake.ts";
import { MsgType } from "../../anchor/message-type.ts";
import type { SessionKeys } from "../../anchor/session-keys.ts";
import type { Endpoint } from "../../ffi/udp.ts";
import type { Signal } from "./discovery-messages.ts";
import type { EmitEvent } from "./events.ts";
import { endpointKey, type HandshakeDriver } from "./handshake-driver.ts";
import type { PacketIO } from "./packet-io.ts";

/* Implementation constants */
export const KEEPALIVE_MS = 10_000;
export const DEAD_AFTER_MS = 35_000;
export const REKEY_AFTER_MS = 120_000;
/** A responder-side session not rekeyed by then is dropped (the initiator is gone). */
export const REJECT_AFTER_MS = 180_000;
export const OFFER_RETRY_MS = 3_000;
export const PRESENCE_FORGET_MS = 120_000;
export const MAX_SLOTS = 1024;
export const PUNCH_DATAGRAM = Uint8Array.of(MsgType.Punch);

export interface Signaller {
  signal(peer: Certificate, peerIdHex: string, s: Signal): Promise<void>;
}

export type PeerState = "known" | "offered" | "dialling" | "up" | "blocked" | "quarantined";

export interface PeerRecord {
  readonly idHex: string;
  cert: Certificate;
  lastPresence: number;
  slot: number | undefined;
  established: number | undefined;
  asInitiator: boolean;
  endpoint: Endpoint | undefined;
  offerSession: number;
  lastOfferAt: number;
  lastKeepalive: number;
  rxPackets: number;
  rxChangedAt: number;
  blocked: string | undefined;
  /** The peer's own presence says it is quarantined: no offers, dials or sessions until it stops saying so. */
  quarantined: boolean;
  /** The epoch of the peer's last presence (undefined until one carried it). */
  epoch: number | undefined;
  /** How many presences of this epoch the node answered with its own (node.ts; reset with the epoch). */
  presenceAnswers: number;
}

export interface PeerManagerOptions {
  readonly selfIdHex: string;
  readonly trust: PeerPolicy;
  readonly io: PacketIO;
  readonly driver: HandshakeDriver;
  readonly signaller: Signaller;
  readonly candidates: () => Endpoint[];
  readonly log?: (line: string) => void;
  /** Told of every installed (or rekeyed) session and every teardown (multi-hop cell links). */
  readonly sessions?: SessionObserver;
  /** Told of peer and session events (`veilnet events`). */
  readonly event?: EmitEvent;
}

export interface SessionObserver {
  up(peer: Certificate, keys: SessionKeys, endpoint: Endpoint): void;
  down(peerIdHex: string): void;
}

export class PeerManager {
  readonly peers = new Map<string, PeerRecord>();
  readonly #slots = new Map<number, string>();
  readonly counters = {
    presenceRejected: 0,
    signalsUnknownPeer: 0,
    sessionsTornDown: 0,
    roamed: 0,
    peerEpochChanges: 0,
    redials: 0,
  };
  readonly #o: PeerManagerOptions;
  readonly #log: (line: string) => void;
  readonly #event: EmitEvent;

  constructor(o: PeerManagerOptions) {
    this.#o = o;
    this.#log = o.log ?? (() => {});
    this.#event = o.event ?? (() => {});
  }

  /**
   * A signed presence announcement (the envelope was verified by the control channel), with the
   * sender's epoch if it carried one. A due offer goes out on the next tick().
   */
  onPresence(
    certificateBytes: Uint8Array,
    now: number,
    epoch?: number,
    quarantined = false,
  ): PeerRecord | undefined {
    let cert: Certificate;
    try {
      cert = verifyCertificate(certificateBytes, { ...this.#o.trust, now: Math.floor(now / 1000) });
    } catch {
      this.counters.presenceRejected++;
      return undefined;
    }
    const idHex = Buffer.from(cert.nodeId).toString("hex");
    if (idHex === this.#o.selfIdHex) return undefined;
    let peer = this.peers.get(idHex);
    if (!peer) {
      peer = newRecord(idHex, cert, now);
      this.peers.set(idHex, peer);
      this.#log(`peer ${short(idHex)} ${formatIPv4(cert.ipv4)} seen`);
      this.#event("peer.discovered", idHex, { ipv4: formatIPv4(cert.ipv4), taints: cert.taints.join(",") });
    } else {
      if (peer.cert.taints.join(",") !== cert.taints.join(","))
        this.#event("peer.taints", idHex, { from: peer.cert.taints.join(","), to: cert.taints.join(",") });
      peer.cert = cert;
      peer.lastPresence = now;
    }
    if (quarantined !== peer.quarantined) this.#setQuarantined(peer, quarantined);
    if (epoch !== undefined) {
      if (peer.epoch !== undefined && peer.epoch !== epoch && !peer.blocked && !peer.quarantined) {
        // The peer's keys for our session are gone: every packet we sealed would be dropped.
        this.counters.peerEpochChanges++;
        this.#event("peer.restarted", idHex, { epoch });
        this.#o.driver.cancel(idHex);
        const last = peer.endpoint;
        this.#teardown(peer, "peer restarted or reset its sessions");
        // Dial the endpoint that just worked at once (both NAT mappings are most likely still
        // open), whichever side offers: the restarted node has no keys and learns of us only now.
        // Its presence reached us before our initiation can reach it, so no fresh session is torn
        // down by this epoch change. The lower id's offer still follows, for fresh candidates.
        if (last) {
          this.counters.redials++;
          this.#o.driver.dial(peer.cert, idHex, [last], now);
        }
      }
      if (peer.epoch !== epoch) peer.presenceAnswers = 0;
      peer.epoch = epoch;
    }
    return peer;
  }

  /** A sealed signal from `fromIdHex` (sender verified by the control channel). */
  onSignal(fromIdHex: string, s: Signal, now: number): void {
    const peer = this.peers.get(fromIdHex);
    if (!peer || peer.blocked || peer.quarantined) {
      this.counters.signalsUnknownPeer++;
      return;
    }
    if (s.kind === "offer") {
      void this.#o.signaller
        .signal(peer.cert, peer.idHex, {
          kind: "answer",
          session: s.session,
          candidates: this.#o.candidates(),
        })
        .catch((e) => this.#log(`answer to ${short(peer.idHex)} failed: ${String(e)}`));
      for (const c of s.candidates) this.#o.io.sendControl(PUNCH_DATAGRAM, c);
      return;
    }
    if (s.session !== peer.offerSession || peer.established !== undefined) return;
    this.#o.driver.dial(peer.cert, peer.idHex, [...s.candidates], now);
  }

  /** A handshake finished: install (or rekey) the session in the packet plane. */
  onEstablished(e: Established, endpoint: Endpoint, asInitiator: boolean, now: number): void {
    const idHex = Buffer.from(e.peer.nodeId).toString("hex");
    let peer = this.peers.get(idHex);
    if (!peer) {
      peer = newRecord(idHex, e.peer, now);
      this.peers.set(idHex, peer);
    }
    if (peer.blocked || peer.quarantined) return;
    peer.cert = e.peer;
    const keys = {
      sendKey: e.keys.sendKey,
      sendReceiverIndex: e.keys.remoteIndex,
      recvKey: e.keys.recvKey,
      localIndex: e.keys.localIndex,
    };
    if (peer.slot === undefined) {
      peer.slot = this.#allocateSlot(idHex);
      const v4 = `${formatIPv4(e.peer.ipv4)}/32`;
      const v6 = `${formatIPv6(e.peer.ipv6)}/128`;
      this.#o.io.setPeer(peer.slot, { endpoint, ...keys, allowedSrcV4: v4, allowedSrcV6: v6 });
      this.#o.io.route(v4, peer.slot);
      this.#o.io.route(v6, peer.slot);
      this.#log(`session up with ${short(idHex)} ${formatIPv4(e.peer.ipv4)} via ${endpointKey(endpoint)}`);
      this.#event("session.up", idHex, sessionDetail(e, endpoint, asInitiator));
    } else {
      this.#event("session.rekey", idHex, sessionDetail(e, endpoint, asInitiator));
      this.#o.io.rekey(peer.slot, keys);
      if (!peer.endpoint || endpointKey(peer.endpoint) !== endpointKey(endpoint)) {
        this.#o.io.updateEndpoint(peer.slot, endpoint);
      }
    }
    peer.endpoint = endpoint;
    peer.established = now;
    peer.asInitiator = asInitiator;
    peer.rxChangedAt = now;
    this.#o.sessions?.up(e.peer, e.keys, endpoint);
    // The initiator confirms the session at once, so the responder may start sending.
    if (asInitiator) {
      this.#o.io.sendKeepalive(peer.slot);
      peer.lastKeepalive = now;
    }
  }

  onDialFailed(idHex: string): void {
    const peer = this.peers.get(idHex);
    if (peer) peer.lastOfferAt = 0;
  }

  /** Timers: keepalives, liveness, roaming, rekeying, re-offers. Call about every 100-500 ms. */
  tick(now: number): void {
    for (const peer of this.peers.values()) {
      if (peer.blocked || peer.quarantined) continue;
      if (peer.slot !== undefined && peer.established !== undefined) {
        this.#tickSession(peer, now);
        continue;
      }
      if (now - peer.lastPresence > PRESENCE_FORGET_MS) {
        this.peers.delete(peer.idHex);
        continue;
      }
      this.#maybeOffer(peer, now);
    }
  }

  /** The peer announced that it is quarantined (or no longer is). */
  #setQuarantined(peer: PeerRecord, quarantined: boolean): void {
    peer.quarantined = quarantined;
    this.#event("peer.quarantined", peer.idHex, { quarantined });
    if (!quarantined) return; // its release presence carries a new epoch: the redial follows
    this.#o.driver.cancel(peer.idHex);
    this.#teardown(peer, "peer is quarantined");
  }

  /** Tears down every session with the peer and refuses it from now on (revoked, quarantined). */
  block(idHex: string, reason: string): boolean {
    const peer = this.peers.get(idHex);
    if (!peer) {
      return false;
    }
    this.#teardown(peer, reason);
    if (!peer.blocked) this.#event("peer.blocked", idHex, { reason });
    peer.blocked = reason;
    this.#o.driver.cancel(idHex);
    return true;
  }

  unblock(idHex: string): void {
    const peer = this.peers.get(idHex);
    if (peer) peer.blocked = undefined;
  }

  /** Tears down every session (shutdown, key invalidation). */
  teardownAll(reason: string): void {
    for (const peer of this.peers.values()) this.#teardown(peer, reason);
  }

  state(peer: PeerRecord): PeerState {
    if (peer.blocked) return "blocked";
    if (peer.quarantined) return "quarantined";
    if (peer.established !== undefined) return "up";
    if (this.#o.driver.isDialling(peer.idHex)) return "dialling";
    return peer.lastOfferAt > 0 ? "offered" : "known";
  }

  snapshot(now: number): object[] {
    return [...this.peers.values()].map((p) => {
      const stats = p.slot !== undefined ? this.#o.io.peerStats(p.slot) : undefined;
      return {
        id: p.idHex,
        ipv4: formatIPv4(p.cert.ipv4),
        ipv6: formatIPv6(p.cert.ipv6),
        state: this.state(p),
        endpoint: p.endpoint ? endpointKey(p.endpoint) : null,
        sessionAgeS: p.established !== undefined ? Math.round((now - p.established) / 1000) : null,
        initiator: p.asInitiator,
        taints: p.cert.taints,
        rxPackets: stats?.rxPackets ?? 0,
        txPackets: stats?.txPackets ?? 0,
        rxBytes: stats?.rxBytes ?? 0,
        txBytes: stats?.txBytes ?? 0,
        blocked: p.blocked ?? null,
      };
    });
  }

  #tickSession(peer: PeerRecord, now: number): void {
    const slot = peer.slot!;
    const stats = this.#o.io.peerStats(slot);
    if (stats.rxAuthenticated !== peer.rxPackets) {
      peer.rxPackets = stats.rxAuthenticated;
      peer.rxChangedAt = now;
      const seen = stats.lastRxEndpoint;
      if (seen && peer.endpoint && endpointKey(seen) !== endpointKey(peer.endpoint)) {
        // An authenticated packet from a new address: the peer roamed (or its NAT rebound).
        this.#o.io.updateEndpoint(slot, seen);
        this.#event("endpoint.roamed", peer.idHex, {
          from: endpointKey(peer.endpoint),
          to: endpointKey(seen),
        });
        peer.endpoint = seen;
        this.counters.roamed++;
      }
    }
    const age = now - (peer.established ?? now);
    if (now - peer.rxChangedAt > DEAD_AFTER_MS || (!peer.asInitiator && age > REJECT_AFTER_MS)) {
      this.#teardown(peer, "silent");
      return;
    }
    if (now - peer.lastKeepalive >= KEEPALIVE_MS) {
      this.#o.io.sendKeepalive(slot);
      peer.lastKeepalive = now;
    }
    if (peer.asInitiator && age > REKEY_AFTER_MS && !this.#o.driver.isDialling(peer.idHex) && peer.endpoint) {
      this.#o.driver.dial(peer.cert, peer.idHex, [peer.endpoint], now);
    }
  }

  #maybeOffer(peer: PeerRecord, now: number): void {
    if (peer.blocked || peer.quarantined || peer.established !== undefined) return;
    if (this.#o.selfIdHex > peer.idHex) return; // the lower id offers
    // A dial with no offer behind it (a re-dial after a restart) does not hold the offer back.
    if (this.#o.driver.isDialling(peer.idHex) && peer.lastOfferAt > 0) return;
    if (now - peer.lastOfferAt < OFFER_RETRY_MS) return;
    peer.lastOfferAt = now;
    peer.offerSession = (Math.random() * 0x100000000) >>> 0;
    void this.#o.signaller
      .signal(peer.cert, peer.idHex, {
        kind: "offer",
        session: peer.offerSession,
        candidates: this.#o.candidates(),
      })
      .catch((e) => this.#log(`offer to ${short(peer.idHex)} failed: ${String(e)}`));
  }

  #teardown(peer: PeerRecord, reason: string): void {
    if (peer.slot !== undefined) {
      this.#o.io.removePeer(peer.slot);
      this.#slots.delete(peer.slot);
      this.counters.sessionsTornDown++;
      this.#log(`session with ${short(peer.idHex)} down (${reason})`);
      this.#event("session.down", peer.idHex, { reason });
      this.#o.sessions?.down(peer.idHex);
    }
    peer.slot = undefined;
    peer.established = undefined;
    peer.endpoint = undefined;
    peer.lastOfferAt = 0;
  }

  #allocateSlot(idHex: string): number {
    for (let s = 0; s < MAX_SLOTS; s++) {
      if (!this.#slots.has(s)) {
        this.#slots.set(s, idHex);
        return s;
      }
    }
    throw new Error("no free peer slot");
  }
}

function newRecord(idHex: string, cert: Certificate, now: number): PeerRecord {
  return {
    idHex,
    cert,
    lastPresence: now,
    slot: undefined,
    established: undefined,
    asInitiator: false,
    endpoint: undefined,
    offerSession: 0,
    lastOfferAt: 0,
    lastKeepalive: 0,
    rxPackets: 0,
    rxChangedAt: now,
    blocked: undefined,
    quarantined: false,
    epoch: undefined,
    presenceAnswers: 0,
  };
}

function sessionDetail(e: Established, endpoint: Endpoint, initiator: boolean) {
  return {
    ipv4: formatIPv4(e.peer.ipv4),
    endpoint: endpointKey(endpoint),
    initiator,
    localIndex: e.keys.localIndex,
    remoteIndex: e.keys.remoteIndex,
  };
}

function short(idHex: string): string {
  return idHex.slice(0, 8);
}
