/**
 * Multi-hop routing in a Conflux node: the path agent (src/rl) wired to path cells over the link
 * sessions, the path TUN, Master health summaries and the Q-table on disk.
 *
 *   peer manager ── link up/down, keys ──▶ CellLinks (cell keys) ──▶ agent.onLinkUp/onLinkDown
 *   vn.health.* (signed) ──▶ HealthBoard ──▶ agent.onNeighbourSummary
 *   path TUN packet ──▶ agent.choose(dest) ──▶ OriginPath.send (+ ACK_ASK ≤ every ACK_ASK_MS)
 *   agent.tick ──▶ build / pathProbe / linkProbe / retire / switch / publish actions
 *   terminal paths ──▶ source check ──▶ path TUN;  PROBE/ACK_ASK answered on the same path
 *
 * Who is reachable how is the agent's business; this file only carries out what it asks and
 * reports what happened, with wall-clock milliseconds so persisted ages survive restarts.
 */
import { chooseAead } from "../../../anchor/aead/choose.ts";
import type { Certificate } from "../../../anchor/certificate.ts";
import type { PeerPolicy } from "../../../anchor/handshake.ts";
import type { Identity } from "../../../anchor/identity.ts";
import { CellCmd } from "../../../anchor/path/cell.ts";
import { AnchorEndToEnd } from "../../../anchor/path/end-to-end.ts";
import { MAX_PATH_PAYLOAD } from "../../../anchor/path/origin.ts";
import { PathService } from "../../../anchor/path/service.ts";
import { NO_LINK } from "../../../anchor/path/table.ts";
import type { TerminalPath } from "../../../anchor/path/terminal.ts";
import type { SessionKeys } from "../../../anchor/session-keys.ts";
import { type ControlChannel, Subjects } from "../../../control/index.ts";
import type { Endpoint } from "../../../ffi/udp.ts";
import { Agent } from "../../../rl/agent.ts";
import { COST_UNIT_MS, UNREACHABLE } from "../../../rl/constants.ts";
import { QTableStore } from "../../../rl/qtable-store.ts";
import { decodeSummary, encodeSummary } from "../../../rl/summary.ts";
import type { Action, NodeId, RouteRow, Summary } from "../../../rl/types.ts";
import type { LabelTable } from "../dataplane/label-table.ts";
import type { EmitEvent } from "../events.ts";
import type { PeerManager } from "../peer-manager.ts";
import { Builds, type OriginRecord } from "./builds.ts";
import { type CellDataplane, CellLinks } from "./cell-links.ts";
import { Directory, type DirectoryEntry } from "./directory.ts";
import { HealthBoard } from "./health-board.ts";
import { answerOf, decodeInband, encodeInband, InbandKind, isInband, PROBE_SIZE, wallMs } from "./inband.ts";
import { LinkRtt } from "./link-rtt.ts";
import { NativeLabels } from "./native-labels.ts";
import { PATH_TUN_SUFFIX, PathTun } from "./path-tun.ts";
import { routesView } from "./routes-view.ts";
import { Trains } from "./trains.ts";

/* Implementation constants */
/** Data on the active path asks for an end-to-end acknowledgement at most this often. */
export const ACK_ASK_MS = 20;
/** The merged summary is republished in full this often (newcomers and restarted nodes catch up). */
export const FULL_SUMMARY_MS = 15_000;
/**
 * A newcomer's (or restarted node's) first presence brings the next full summary forward to within
 * this window (spread so the realm does not answer at once), but never closer than
 * FULL_SUMMARY_MIN_GAP_MS to the last one: a cold node resolves routes through non-neighbours in
 * about a second instead of waiting up to FULL_SUMMARY_MS, and arrivals cost each node at most one
 * extra summary per gap.
 */
export const ARRIVAL_SUMMARY_WITHIN_MS = 1_000;
export const FULL_SUMMARY_MIN_GAP_MS = 5_000;
export const STORE_FLUSH_MS = 10_000;
export const ROUTES_FILE = "routes.sqlite";
/** Relays drop any path after 15 minutes (path/switch.ts): rotate well before. */
const PATH_LIFETIME_MS = 7 * 60_000;
/**
 * The standby is probed this often (the agent's default is set for a simulated realm's message
 * budget): a probe is one in-band packet, and with two paths to a destination the standby is the
 * only challenger, so its probes are all the evidence a better path can collect (research/rl.md §3:
 * the standby is probed at 1 Hz).
 */
const STANDBY_PROBE_MS = 2_000;
/**
 * Stored routes are handed to the agent when the first link session comes up, or after this long:
 * the agent rebuilds them together, each once its first hop is up, the best stored one preferred (route-book.ts),
 * and the build itself waits for that link to answer a probe (builds.ts).
 */
export const STORED_ROUTES_WAIT_MS = 15_000;
/** Fault injection for tests only: publish every cost multiplied by this factor (a liar). */
export const LIE_ENV = "VEILNET_ROUTING_LIE";

export interface MultiHopOptions {
  readonly identity: Identity;
  readonly certificate: Certificate;
  readonly trust: PeerPolicy;
  readonly tunName: string;
  readonly ipv4: string;
  readonly ipv6: string;
  readonly storePath: string;
  readonly sendDatagram: (d: Uint8Array, to: Endpoint) => boolean;
  readonly peers: PeerManager;
  readonly channel: ControlChannel;
  readonly log: (line: string) => void;
  readonly lieFactor?: number;
  /** Told of paths built, switched, retired and failed (`veilnet events`). */
  readonly event?: EmitEvent;
  /** The native data plane: it opens cells and relays traversing paths (absent: all in JS). */
  readonly dataplane?: CellDataplane & { readonly labels: LabelTable };
}

export class MultiHop {
  readonly self: NodeId;
  readonly agent: Agent;
  readonly dir = new Directory();
  readonly board = new HealthBoard();
  readonly links: CellLinks;
  readonly paths: PathService;
  readonly builds: Builds;
  readonly tun: PathTun;
  readonly store: QTableStore;
  readonly terminals = new Map<NodeId, TerminalPath>();
  readonly counters = {
    sentOnPath: 0,
    sentOnTerminal: 0,
    /** Copies sent on the standby / the peer's path while the active path was stalled. */
    sentAround: 0,
    noPath: 0,
    unknownDest: 0,
    delivered: 0,
    badSource: 0,
    badDest: 0,
    summariesRefused: 0,
    publishFailed: 0,
    linkProbesUnanswered: 0,
  };
  readonly #o: MultiHopOptions;
  readonly rtt: LinkRtt;
  readonly trains: Trains;
  /** The mirror of the path table in the native label table (with a native data plane). */
  readonly labels: NativeLabels | undefined;
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly #v4: Uint8Array;
  #fullDueAt = 0;
  #lastFullAt = Number.NEGATIVE_INFINITY;
  #lastPoll = 0;
  #lastFlush = 0;
  #stopped = false;
  /** Stored routes not yet handed to the agent (see STORED_ROUTES_WAIT_MS). */
  #stored: readonly RouteRow[] = [];
  #storedSince = 0;

  private constructor(o: MultiHopOptions, now: number) {
    this.#o = o;
    this.#v4 = o.certificate.ipv4;
    this.self = this.dir.learn(o.certificate).id;
    this.agent = new Agent({
      self: this.self,
      seed: (Math.random() * 0x100000000) >>> 0,
      params: { pathLifetimeMs: PATH_LIFETIME_MS, standbyProbeMs: STANDBY_PROBE_MS },
    });
    this.trains = new Trains((pathId, t, now) => this.agent.observeTrain(pathId, t, now));
    this.store = QTableStore.open(o.storePath, { now, log: { warn: o.log } });
    const stored = this.store.load(now);
    this.agent.importRows([], stored.links, now);
    this.#stored = stored.routes;
    this.#storedSince = now;
    if (stored.routes.length > 0) o.log(`routing table: ${stored.routes.length} stored routes loaded`);
    const backend = chooseAead();
    this.links = new CellLinks({
      selfNodeId: o.identity.nodeId,
      backend,
      send: o.sendDatagram,
      onCell: (link, buf, pos, len, t) => this.paths.onCell(link, buf, pos, len, t),
      onProbeEcho: (_peer, token, t) => this.rtt.echo(token, t),
      ...(o.dataplane ? { dataplane: o.dataplane } : {}),
    });
    this.rtt = new LinkRtt({
      probe: (peer, token, t) => this.links.probe(peer, token, t),
      onDead: (peer, t) => this.#linkDead(peer, t),
      onAlive: (peer, t) => this.#linkAlive(peer, t),
    });
    this.paths = new PathService({
      identity: o.identity,
      links: this.links,
      backend,
      e2e: new AnchorEndToEnd(
        { identity: o.identity, certificate: o.certificate, trust: o.trust },
        (id) => this.dir.byHex(Buffer.from(id).toString("hex"))?.cert ?? null,
        now,
      ),
      sendDirect: () => false,
      onTerminalOpen: (t) => this.#onTerminalOpen(t),
      onTerminalData: (t, plain, at) => this.#onTerminalData(t, plain, at),
    });
    if (o.dataplane) {
      this.labels = new NativeLabels(o.dataplane.labels, (link) => this.links.slotOf(link));
      this.paths.sw.table.observer = this.labels;
    }
    this.builds = new Builds({
      self: this.self,
      hopCap: this.agent.params.hopCap,
      board: this.board,
      paths: this.paths,
      hopInfo: (n) => this.dir.hopInfo(n),
      // a link whose session is installed here but not yet at the peer drops the build's first
      // cell, and a lost build costs the agent its whole build timeout: builds wait for an echo
      hasLink: (n) => {
        const e = this.dir.byId(n);
        return e !== undefined && this.links.linkOf(e.idHex) !== undefined && this.rtt.answered(e.idHex);
      },
      observe: (ob) => {
        if (ob.type === "built" || ob.type === "pathFailed") this.#pathEvent(ob);
        this.agent.observe(ob, wallMs());
      },
      onOriginData: (r, plain, t) => this.#onOriginData(r, plain, t),
      log: o.log,
    });
    this.tun = PathTun.open({
      name: `${o.tunName}${PATH_TUN_SUFFIX}`,
      mtu: MAX_PATH_PAYLOAD,
      srcV4: o.ipv4,
      srcV6: o.ipv6,
      onPacket: (p) => this.#onTunPacket(p),
    });
  }

  static start(o: MultiHopOptions): MultiHop {
    const m = new MultiHop(o, wallMs());
    o.channel.subscribe(Subjects.healthAll, (msg) => m.#onHealth(msg.senderId, msg.body));
    m.#timers.push(setInterval(() => m.tick(wallMs()), 50));
    return m;
  }

  /* ---- hooks from the node ---- */

  /** A PathCell datagram from the data-plane socket. */
  onDatagram(d: Uint8Array): void {
    const now = wallMs();
    this.builds.deliver(now, () => this.links.receive(d, now));
  }

  /** The peer manager installed (or rekeyed) a link session. */
  onLinkUp(cert: Certificate, keys: SessionKeys, endpoint: Endpoint): void {
    const e = this.dir.learn(cert);
    const now = wallMs();
    if (this.links.up(e.idHex, cert.nodeId, keys, endpoint, now)) {
      this.tun.unroute(e.ipv4);
      this.tun.unroute(e.ipv6);
      this.rtt.up(e.idHex, now);
      this.agent.onLinkUp(e.id, now);
      this.#importStored(now);
      const s = this.board.fullSummary(e.id);
      if (s) this.agent.onNeighbourSummary(s, now);
    }
  }

  /** A node joined the realm or restarted (its first presence of an epoch): it needs our summary. */
  onPeerArrived(): void {
    const now = wallMs();
    const soon = now + Math.random() * ARRIVAL_SUMMARY_WITHIN_MS;
    this.#fullDueAt = Math.min(this.#fullDueAt, Math.max(soon, this.#lastFullAt + FULL_SUMMARY_MIN_GAP_MS));
  }

  onLinkDown(idHex: string): void {
    const now = wallMs();
    const link = this.links.down(idHex);
    if (link === NO_LINK) return;
    this.paths.sw.linkDown(link, now);
    this.rtt.down(idHex);
    const e = this.dir.byHex(idHex);
    if (e) this.agent.onLinkDown(e.id, now);
  }

  /**
   * Link probes stopped coming back (link-rtt.ts): paths relayed over the link are destroyed (their
   * origins hear DESTROY and fail over at once) and the agent stops routing through it, long before
   * the peer manager gives the session up.
   */
  #linkDead(idHex: string, now: number): void {
    const e = this.dir.byHex(idHex);
    const link = this.links.linkOf(idHex);
    this.#o.log(`link to ${e?.ipv4 ?? idHex.slice(0, 8)}: probes unanswered, routing around it`);
    if (link) this.paths.sw.linkDown(link.id, now);
    if (e) this.agent.onLinkDown(e.id, now);
  }

  #linkAlive(idHex: string, now: number): void {
    const e = this.dir.byHex(idHex);
    if (!e) return;
    this.#o.log(`link to ${e.ipv4}: answering again`);
    this.agent.onLinkUp(e.id, now);
    const s = this.board.fullSummary(e.id);
    if (s) this.agent.onNeighbourSummary(s, now);
  }

  /* ---- time ---- */

  tick(now: number): void {
    if (this.#stopped) return;
    this.#refreshPeers();
    if (this.#stored.length > 0 && now - this.#storedSince >= STORED_ROUTES_WAIT_MS) this.#importStored(now);
    for (const a of this.agent.tick(now)) this.#act(a, now);
    for (const t of this.agent.dueTrains(now)) {
      const r = this.builds.origins.get(t.pathId);
      this.trains.start(t.pathId, r?.ready ? r.path : undefined, now);
    }
    this.trains.tick(now);
    this.builds.tick(now);
    this.rtt.tick(now);
    if (now - this.#lastPoll >= 1_000) {
      this.#lastPoll = now;
      this.paths.poll(now);
      for (const [n, t] of this.terminals) if (t.closed) this.terminals.delete(n);
    }
    if (now >= this.#fullDueAt) {
      this.#fullDueAt = now + FULL_SUMMARY_MS;
      this.#lastFullAt = now;
      this.#publish(this.agent.summary());
    }
    if (now - this.#lastFlush >= STORE_FLUSH_MS) this.flush(now);
  }

  #importStored(now: number): void {
    if (this.#stored.length === 0) return;
    const routes = this.#stored;
    this.#stored = [];
    this.agent.importRows(routes, [], now);
  }

  flush(now: number): void {
    this.#lastFlush = now;
    this.store.stage(this.agent.takeChanges());
    this.store.flush();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    try {
      this.flush(wallMs());
      this.store.close();
    } catch (e) {
      this.#o.log(`routing table: ${String(e)}`);
    }
    this.builds.closeAll(wallMs());
    this.tun.close();
  }

  /** For `veilnet routes`. */
  routes(): unknown {
    const sw = this.paths.sw;
    const relay = {
      jsForwarded: sw.forwarded,
      jsForwardedData: sw.forwardedByCmd[CellCmd.Data],
      labels: this.labels?.counters ?? null,
    };
    // what the burst trains measured per path (ms; src/rl/burst.ts), and how many were sent
    const bursts: Record<number, number> = {};
    for (const d of this.agent.snapshot(wallMs()).destinations)
      for (const c of d.candidates) {
        const b = this.agent.destState(d.dest)?.paths.find((r) => r.id === c.pathId)?.burst;
        if (b && b.nEff > 0) bursts[c.pathId] = Math.round(b.mu * 100) / 100;
      }
    // what the usable neighbours claim towards each wanted destination, and what this node advertises
    const claims: Record<string, Record<string, number>> = {};
    for (const d of this.agent.snapshot(wallMs()).destinations) {
      const c: Record<string, number> = {};
      for (const [n, ms] of this.agent.claimsTo(d.dest)) c[this.dir.name(n)] = Math.round(ms * 100) / 100;
      claims[this.dir.name(d.dest)] = c;
    }
    const own = this.agent.advertisedSummary();
    const advertises: Record<string, string> = {};
    for (let i = 0; i < Math.min(own.dests.length, 64); i++) {
      const cost = own.costs[i]!;
      advertises[this.dir.name(own.dests[i]!)] =
        cost === UNREACHABLE
          ? "unreachable"
          : `${(cost * COST_UNIT_MS).toFixed(1)} via ${this.dir.name(own.vias[i]!)}`;
    }
    return {
      ...(routesView(this, wallMs()) as object),
      relay,
      trains: { ...this.trains.counters, bursts },
      claims,
      advertises,
    };
  }

  /* ---- peers and routes ---- */

  /** Destinations without a (live) direct session are routed to the path TUN; direct ones are not. */
  #refreshPeers(): void {
    for (const p of this.#o.peers.peers.values()) {
      const e = this.dir.learn(p.cert);
      if (p.endpoint && this.links.linkOf(e.idHex)) this.links.setEndpoint(e.idHex, p.endpoint);
      // A session whose link probes go unanswered is not used directly while it waits to be torn down.
      const direct = p.established !== undefined && p.slot !== undefined && !this.rtt.isDead(e.idHex);
      try {
        if (direct || p.blocked) {
          this.tun.unroute(e.ipv4);
          this.tun.unroute(e.ipv6);
        } else {
          this.tun.route(e.ipv4);
          this.tun.route(e.ipv6);
        }
      } catch (err) {
        this.#o.log(`path route for ${e.ipv4}: ${String(err)}`);
      }
    }
  }

  /* ---- agent actions ---- */

  #act(a: Action, now: number): void {
    switch (a.type) {
      case "linkProbe": {
        const e = this.dir.byId(a.neighbour);
        const ms = e ? this.rtt.minMs(e.idHex, now) : Number.NaN;
        if (Number.isNaN(ms)) this.counters.linkProbesUnanswered++;
        else this.agent.observe({ type: "probeReply", probeId: a.probeId, rttMs: ms }, now);
        return;
      }
      case "pathProbe": {
        const r = this.builds.origins.get(a.pathId);
        if (r?.ready) r.path.send(encodeInband(InbandKind.Probe, BigInt(a.probeId), now, PROBE_SIZE), now);
        return;
      }
      case "build":
        this.builds.start(a, now);
        return;
      case "retire":
        this.#o.event?.("path.retired", this.#destHex(this.builds.origins.get(a.pathId)?.dest), {
          pathId: a.pathId,
          hops: this.#hopsOf(a.pathId),
        });
        this.builds.retire(a.pathId, now);
        return;
      case "switch":
        this.#o.log(
          `route to ${this.dir.name(a.dest)}: ${a.reason} → path ${a.pathId} ${this.#hopsOf(a.pathId)}`,
        );
        this.#o.event?.("path.switched", this.#destHex(a.dest), {
          pathId: a.pathId,
          reason: a.reason,
          hops: this.#hopsOf(a.pathId),
        });
        return;
      case "publish":
        this.#publish(a.summary);
        return;
      case "requestSummary":
        // Both ends see the link come up and each publishes its full summary soon.
        this.#fullDueAt = Math.min(this.#fullDueAt, now + 300);
        return;
    }
  }

  #pathEvent(ob: { type: "built"; buildId: number } | { type: "pathFailed"; pathId: number }): void {
    const id = ob.type === "built" ? ob.buildId : ob.pathId;
    const r = this.builds.origins.get(id);
    this.#o.event?.(ob.type === "built" ? "path.built" : "path.failed", this.#destHex(r?.dest), {
      pathId: id,
      hops: this.#hopsOf(id),
    });
  }

  #destHex(dest: NodeId | undefined): string | undefined {
    return dest === undefined ? undefined : this.dir.byId(dest)?.idHex;
  }

  #hopsOf(pathId: number): string {
    const r = this.builds.origins.get(pathId);
    return r ? r.hops.map((h) => this.dir.name(h)).join(" → ") : "";
  }

  #publish(s: Summary): void {
    const f = this.#o.lieFactor;
    const out = f && f > 0 ? lie(s, f) : s;
    this.#o.channel
      .publish(Subjects.health(Buffer.from(this.#o.identity.nodeId).toString("hex")), encodeSummary(out))
      .catch(() => this.counters.publishFailed++);
  }

  #onHealth(senderIdHex: string, body: Uint8Array): void {
    const e = this.dir.byHex(senderIdHex) ?? this.#learnPeer(senderIdHex);
    let s: Summary;
    try {
      s = decodeSummary(body);
    } catch {
      this.counters.summariesRefused++;
      return;
    }
    if (!e || s.origin !== e.id || e.id === this.self) {
      this.counters.summariesRefused++;
      return;
    }
    const now = wallMs();
    this.board.apply(s, now);
    if (this.links.linkOf(e.idHex)) {
      const full = this.board.fullSummary(e.id);
      if (full) this.agent.onNeighbourSummary(full, now);
    }
  }

  #learnPeer(idHex: string): DirectoryEntry | undefined {
    const p = this.#o.peers.peers.get(idHex);
    return p ? this.dir.learn(p.cert) : undefined;
  }

  /* ---- packets ---- */

  #onTunPacket(p: Uint8Array): void {
    const v4 = p[0]! >> 4 === 4;
    const e = this.dir.byAddress(p, v4 ? 16 : 24, v4);
    if (!e || e.id === this.self) {
      this.counters.unknownDest++;
      return;
    }
    const now = wallMs();
    const choice = this.agent.choose(e.id, now);
    const r = choice.pathId >= 0 ? this.builds.origins.get(choice.pathId) : undefined;
    if (r?.ready && r.path.send(p, now)) {
      this.counters.sentOnPath++;
      if (now - r.lastAckAskAt >= ACK_ASK_MS) {
        r.lastAckAskAt = now;
        if (r.path.send(encodeInband(InbandKind.AckAsk, BigInt(r.id), now), now)) r.stall.asked(now);
        this.agent.noteSent(e.id, r.id, now);
      }
      if (r.stall.stalled(now)) this.#sendAround(e.id, r, choice.standbyId, p, now);
      return;
    }
    // No path of our own yet: answer over the path the peer built to us, if any.
    const t = this.terminals.get(e.id);
    if (t && !t.closed && t.send(p, now)) {
      this.counters.sentOnTerminal++;
      return;
    }
    this.counters.noPath++;
  }

  /**
   * The active path is stalled (stall-watch.ts): the packet also goes on the standby and on the
   * path the peer last reached us over, until the agent decides (duplicates are harmless to IP).
   */
  #sendAround(dest: NodeId, active: OriginRecord, standbyId: number, p: Uint8Array, now: number): void {
    const s = standbyId >= 0 && standbyId !== active.id ? this.builds.origins.get(standbyId) : undefined;
    if (s?.ready && s.path.send(p, now)) this.counters.sentAround++;
    const t = this.terminals.get(dest);
    if (t && !t.closed && t.send(p, now)) this.counters.sentAround++;
  }

  #onOriginData(r: OriginRecord, plain: Uint8Array, now: number): void {
    if (isInband(plain)) {
      const m = decodeInband(plain);
      if (!m) return;
      const rtt = Math.max(0.01, now - m.stamp);
      if (m.kind === InbandKind.ProbeEcho)
        this.agent.observe({ type: "probeReply", probeId: Number(m.token), rttMs: rtt }, now);
      else if (m.kind === InbandKind.TrainEcho) this.trains.echo(r.id, m.token, now);
      else if (m.kind === InbandKind.Ack && m.token === BigInt(r.id)) {
        r.stall.acked(m.stamp, rtt, now);
        this.agent.observe({ type: "ack", pathId: r.id, sentAt: m.stamp, rttMs: rtt }, now);
      }
      return;
    }
    const e = this.dir.byId(r.dest);
    if (e) this.#deliver(e, plain);
  }

  #onTerminalOpen(t: TerminalPath): void {
    const e = this.dir.byHex(Buffer.from(t.peerNodeId).toString("hex"));
    if (e) this.terminals.set(e.id, t);
  }

  #onTerminalData(t: TerminalPath, plain: Uint8Array, now: number): void {
    const e = this.dir.byHex(Buffer.from(t.peerNodeId).toString("hex"));
    if (!e) return;
    if (this.terminals.get(e.id) !== t) this.terminals.set(e.id, t);
    if (isInband(plain)) {
      const m = decodeInband(plain);
      const answer = m && answerOf(m, plain.length);
      if (answer) t.send(answer, now);
      return;
    }
    this.#deliver(e, plain);
  }

  /** A packet from `from` over a path: its inner source must be `from`'s certified address. */
  #deliver(from: DirectoryEntry, p: Uint8Array): void {
    const v = p[0]! >> 4;
    if (v === 4 && p.length >= 20) {
      if (from.id !== nodeIdAt(p, 12)) return void this.counters.badSource++;
      if (nodeIdAt(p, 16) !== nodeIdAt(this.#v4, 0)) return void this.counters.badDest++;
    } else if (v === 6 && p.length >= 40) {
      if (this.dir.byAddress(p, 8, false) !== from) return void this.counters.badSource++;
      if (this.dir.byAddress(p, 24, false)?.id !== this.self) return void this.counters.badDest++;
    } else return void this.counters.badSource++;
    this.counters.delivered++;
    this.tun.write(p);
  }
}

function nodeIdAt(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** The liar of the fault-injection tests: every advertised cost scaled by `f` (never to 0). */
function lie(s: Summary, f: number): Summary {
  const costs = s.costs.map((c) => (c === UNREACHABLE ? c : Math.max(1, Math.round(c * f))));
  return { ...s, costs };
}
