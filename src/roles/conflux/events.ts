/**
 * The node's recent events: a bounded ring that `veilnet events` prints, and live subscribers that
 * `veilnet events --follow` streams to. Emitting never blocks and never throws: a subscriber that
 * throws is dropped, and a slow follower is the follower's problem (event-follower.ts).
 */

/* Implementation constants */
/** Events kept for `veilnet events`; older ones are overwritten. */
export const EVENT_RING_CAPACITY = 1024;
/** Live subscribers at once (each `events --follow` is one). */
export const MAX_SUBSCRIBERS = 16;

/** What happened. Peer and path events carry the peer's node id (hex) in `peer`. */
export const EVENT_TYPES = [
  "peer.discovered",
  "peer.restarted",
  "peer.taints",
  "peer.blocked",
  "peer.quarantined",
  "session.up",
  "session.rekey",
  "session.down",
  "endpoint.roamed",
  "path.built",
  "path.switched",
  "path.retired",
  "path.failed",
  "admin.command",
  "admin.refused",
  "node.quarantined",
  "node.released",
  "node.revoked",
  "credentials.renewed",
  /** Written by a follower stream, never stored: events it had to drop because its reader was slow. */
  "events.dropped",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type EventDetail = Readonly<Record<string, string | number | boolean | null>>;

export interface NodeEvent {
  /** 1, 2, 3… per node run: a gap tells a reader events were overwritten or dropped. */
  readonly seq: number;
  /** Wall-clock milliseconds. */
  readonly at: number;
  readonly type: EventType;
  readonly peer?: string;
  readonly detail: EventDetail;
}

/** What hooks in the node call; the ring stamps seq and time. */
export type EmitEvent = (type: EventType, peer: string | undefined, detail?: EventDetail) => void;

export class EventRing {
  readonly #ring: (NodeEvent | undefined)[];
  readonly #subscribers = new Set<(e: NodeEvent) => void>();
  #seq = 0;
  readonly counters = { emitted: 0, subscriberErrors: 0, subscribersRefused: 0 };

  constructor(
    readonly capacity = EVENT_RING_CAPACITY,
    readonly clock: () => number = Date.now,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be ≥ 1");
    this.#ring = new Array(capacity);
  }

  /** Bound for hooks: `emit: ring.emit` keeps `this`. */
  readonly emit: EmitEvent = (type, peer, detail = {}) => {
    const e: NodeEvent = { seq: ++this.#seq, at: this.clock(), type, ...(peer ? { peer } : {}), detail };
    this.#ring[(e.seq - 1) % this.capacity] = e;
    this.counters.emitted++;
    for (const s of this.#subscribers) {
      try {
        s(e);
      } catch {
        this.counters.subscriberErrors++;
        this.#subscribers.delete(s);
      }
    }
  };

  /** The stored events, oldest first; at most `limit` (the newest ones). */
  recent(limit = this.capacity): NodeEvent[] {
    const n = Math.max(0, Math.min(limit, this.capacity, this.#seq));
    const out: NodeEvent[] = [];
    for (let seq = this.#seq - n + 1; seq <= this.#seq; seq++) {
      const e = this.#ring[(seq - 1) % this.capacity];
      if (e) out.push(e);
    }
    return out;
  }

  /** Calls `listener` for every later event until the returned function is called. */
  subscribe(listener: (e: NodeEvent) => void): (() => void) | undefined {
    if (this.#subscribers.size >= MAX_SUBSCRIBERS) {
      this.counters.subscribersRefused++;
      return undefined;
    }
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }
}

/** Reads one event back from JSON (a follower's line): undefined unless it has the right shape. */
export function parseEvent(value: unknown): NodeEvent | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.seq !== "number" || typeof v.at !== "number" || typeof v.type !== "string") return undefined;
  if (!(EVENT_TYPES as readonly string[]).includes(v.type)) return undefined;
  if (v.peer !== undefined && typeof v.peer !== "string") return undefined;
  const detail: Record<string, string | number | boolean | null> = {};
  if (typeof v.detail === "object" && v.detail !== null) {
    for (const [k, x] of Object.entries(v.detail)) {
      if (x === null || typeof x === "string" || typeof x === "number" || typeof x === "boolean")
        detail[k] = x;
    }
  }
  return {
    seq: v.seq,
    at: v.at,
    type: v.type as EventType,
    ...(typeof v.peer === "string" ? { peer: v.peer } : {}),
    detail,
  };
}
