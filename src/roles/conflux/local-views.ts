/**
 * What the local control socket answers: the node's views for `veilnet status|peers|sessions|
 * routes|counters|events|metrics`, built from the node's live objects on request. The node's event
 * hooks go through {@link LocalViews.emit}, which records each event in the ring and keeps the
 * per-session facts (indices, rekeys) that the peer records do not hold.
 */
import { SUITE_NAMES, Suite } from "../../anchor/aead/aead.ts";
import type { EventFollower } from "../../control/event-follower.ts";
import type { LocalHandler, LocalStreamHandler } from "../../control/local-control.ts";
import { type EmitEvent, EventRing, type EventType } from "./events.ts";
import { type MetricsPeer, renderMetrics } from "./metrics.ts";
import type { ConfluxNode } from "./node.ts";
import { REJECT_AFTER_MS, REKEY_AFTER_MS } from "./peer-manager.ts";

/** The session suite: hybrid X25519 + ML-KEM-768 handshake, AES-256-GCM transport. */
export const SESSION_SUITE = `x25519+mlkem768/${SUITE_NAMES[Suite.Aes256Gcm]}`;
export const PEER_STATES = ["known", "offered", "dialling", "up", "blocked"] as const;

interface SessionFacts {
  localIndex: number;
  remoteIndex: number;
  rekeys: number;
}

export class LocalViews {
  readonly events = new EventRing();
  readonly #sessions = new Map<string, SessionFacts>();
  readonly #followers = new Set<EventFollower>();
  #followerDropped = 0;

  /** The hook every part of the node calls. */
  readonly emit: EmitEvent = (type, peer, detail = {}) => {
    if (peer) this.#note(type, peer, detail);
    this.events.emit(type, peer, detail);
  };

  #note(type: EventType, peer: string, detail: Readonly<Record<string, unknown>>): void {
    if (type === "session.up" || type === "session.rekey") {
      const prev = this.#sessions.get(peer);
      this.#sessions.set(peer, {
        localIndex: Number(detail.localIndex ?? -1),
        remoteIndex: Number(detail.remoteIndex ?? -1),
        rekeys: type === "session.rekey" ? (prev?.rekeys ?? 0) + 1 : 0,
      });
    } else if (type === "session.down") this.#sessions.delete(peer);
  }

  handlers(node: ConfluxNode): Record<string, LocalHandler> {
    return {
      status: () => node.status(),
      peers: () => node.peers.snapshot(Date.now()),
      sessions: () => this.sessions(node, Date.now()),
      routes: () => node.multihop?.routes() ?? { error: "no multi-hop routing (embedded mode)" },
      counters: () => ({
        dataplane: node.io.counters(),
        handshakes: node.driver.counters,
        peers: node.peers.counters,
        // every control message costs an ML-DSA-65 signature to send and a verification to accept
        control: {
          received: node.channel.received,
          sent: node.channel.sent,
          ...Object.fromEntries(
            Object.entries(node.channel.drops.snapshot()).map(([k, v]) => [`dropped ${k}`, v]),
          ),
        },
      }),
      events: (args) => {
        const limit = typeof args.limit === "number" && args.limit >= 0 ? args.limit : undefined;
        return this.events.recent(limit);
      },
      metrics: () => this.metrics(node),
    };
  }

  streams(): Record<string, LocalStreamHandler> {
    return {
      events: (args, follower) => {
        // `--follow` may first replay the last N stored events, then streams the new ones.
        const replay = typeof args.replay === "number" && args.replay > 0 ? args.replay : 0;
        for (const e of replay ? this.events.recent(replay) : []) follower.push(e);
        const unsubscribe = this.events.subscribe((e) => follower.push(e));
        if (!unsubscribe) throw new Error("too many event followers");
        this.#followers.add(follower);
        return () => {
          unsubscribe();
          this.#followers.delete(follower);
          this.#followerDropped += follower.dropped;
        };
      },
    };
  }

  /** One row per Anchor session installed in the packet plane. */
  sessions(node: ConfluxNode, now: number): Record<string, unknown>[] {
    const rows: Record<string, unknown>[] = [];
    const byId = new Map(
      (node.peers.snapshot(now) as { id: string; ipv4: string; ipv6: string; endpoint: string | null }[]).map(
        (r) => [r.id, r],
      ),
    );
    for (const p of node.peers.peers.values()) {
      if (p.slot === undefined || p.established === undefined) continue;
      const stats = node.io.peerStats(p.slot);
      const facts = this.#sessions.get(p.idHex);
      const ageMs = now - p.established;
      const row = byId.get(p.idHex);
      rows.push({
        peer: p.idHex,
        ipv4: row?.ipv4 ?? null,
        ipv6: row?.ipv6 ?? null,
        endpoint: row?.endpoint ?? null,
        localIndex: facts?.localIndex ?? null,
        remoteIndex: facts?.remoteIndex ?? null,
        initiator: p.asInitiator,
        establishedAgoS: round1(ageMs / 1000),
        // The initiator rekeys; a responder session not rekeyed by REJECT_AFTER_MS is dropped.
        rekeyDueInS: round1((REKEY_AFTER_MS - ageMs) / 1000),
        expiresInS: p.asInitiator ? null : round1((REJECT_AFTER_MS - ageMs) / 1000),
        rekeys: facts?.rekeys ?? 0,
        sendCounter: Number(stats.sendCounter),
        lastRxKey: stats.lastRxKey,
        rxPackets: stats.rxPackets,
        txPackets: stats.txPackets,
        rxBytes: stats.rxBytes,
        txBytes: stats.txBytes,
        suite: SESSION_SUITE,
      });
    }
    return rows;
  }

  metrics(node: ConfluxNode): string {
    const now = Date.now();
    const peers = node.peers.snapshot(now) as MetricsPeer[];
    const mh = node.multihop;
    let followerDropped = this.#followerDropped;
    for (const f of this.#followers) followerDropped += f.dropped;
    const mem = process.memoryUsage();
    return renderMetrics({
      dataplane: node.io.counters(),
      handshakes: node.driver.counters,
      peerManager: node.peers.counters,
      controlDrops: node.channel.drops.snapshot?.() ?? null,
      peers,
      peerStates: PEER_STATES,
      ...(mh
        ? {
            multihop: {
              router: mh.counters,
              builds: mh.builds.counters,
              links: mh.links.counters,
              agent: mh.agent.stats,
              pathTun: mh.tun.counters,
              relayedCells: mh.paths.sw.forwarded,
              relayedPaths: mh.paths.sw.table.size,
            },
          }
        : {}),
      events: {
        emitted: this.events.counters.emitted,
        followers: this.#followers.size,
        followerDropped,
      },
      process: {
        rssBytes: mem.rss,
        heapBytes: mem.heapUsed,
        uptimeSeconds: Math.round((now - node.startedAt) / 1000),
      },
    });
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
