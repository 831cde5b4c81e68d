/**
 * Link RTTs to neighbours, measured with link probes (cell-links.ts) and filtered by a windowed
 * minimum. On links of a fraction of a millisecond, one echo mostly measures how long either
 * node's event loop was busy (a node starting up, verifying certificates or running KEMs stalls
 * for tens to hundreds of milliseconds on a loaded machine), and the agent checks every claim a
 * neighbour makes about this node against the link RTT with a 2 ms slack: an inflated sample makes
 * an honest neighbour look like a liar for the suspicion half-life (15 min). So every neighbour is
 * probed in the background, and the agent's link probes are answered only once MIN_SAMPLES echoes
 * are in the window, with their minimum; until then the agent ranks by its placeholder link cost.
 *
 * Until a new link's first echo is back, it is probed every CONFIRM_PROBE_MS as well: that echo
 * shows both ends hold the link's cell keys (a responder's first cells, sent while the initiator is
 * still installing the session, are dropped there), and builds wait for it (builds.ts). These extra
 * probes count no misses.
 *
 * The same probes tell a dead link: DEAD_AFTER_MISSES unanswered probes in a row (a few seconds,
 * against the peer manager's 35 s of silence before it tears the session down) report the link
 * dead, and the next echo reports it alive again. A dead link answers no link probe.
 */

/* Implementation constants */
export const BACKGROUND_MS = 1_000;
/** Unanswered background probes in a row after which the link counts as dead. */
export const DEAD_AFTER_MISSES = 4;
export const WINDOW_MS = 60_000;
export const MIN_SAMPLES = 8;
/** A link with no echo yet is also probed this often (those probes count no misses). */
export const CONFIRM_PROBE_MS = 150;
const ECHO_TIMEOUT_MS = 2_000;
const MAX_SAMPLES = 64;

interface Neighbour {
  readonly peerIdHex: string;
  nextAt: number;
  nextConfirmAt: number;
  misses: number;
  dead: boolean;
  readonly samples: { at: number; ms: number }[];
}

export interface LinkRttOptions {
  /** Sends a link probe with `token`; false if it could not be sent. */
  readonly probe: (peerIdHex: string, token: bigint, now: number) => boolean;
  /** The link stopped answering (DEAD_AFTER_MISSES probes in a row). */
  readonly onDead?: (peerIdHex: string, now: number) => void;
  /** A dead link answered again. */
  readonly onAlive?: (peerIdHex: string, now: number) => void;
}

export class LinkRtt {
  readonly #n = new Map<string, Neighbour>();
  readonly #inFlight = new Map<bigint, { peerIdHex: string; at: number; counts: boolean }>();
  readonly #o: LinkRttOptions;
  #token = 1n;
  readonly counters = { probes: 0, echoes: 0 };

  constructor(o: LinkRttOptions) {
    this.#o = o;
  }

  up(peerIdHex: string, now: number): void {
    this.#n.set(peerIdHex, {
      peerIdHex,
      nextAt: now,
      nextConfirmAt: now + CONFIRM_PROBE_MS,
      misses: 0,
      dead: false,
      samples: [],
    });
  }

  down(peerIdHex: string): void {
    this.#n.delete(peerIdHex);
  }

  isDead(peerIdHex: string): boolean {
    return this.#n.get(peerIdHex)?.dead ?? false;
  }

  /** True once a probe sent over the link (since it came up) was echoed, and it is not dead. */
  answered(peerIdHex: string): boolean {
    const n = this.#n.get(peerIdHex);
    return n !== undefined && !n.dead && n.samples.length > 0;
  }

  /** Minimum RTT over the window; NaN until MIN_SAMPLES echoes are in it. */
  minMs(peerIdHex: string, now: number): number {
    const n = this.#n.get(peerIdHex);
    if (!n || n.dead) return Number.NaN;
    let best = Number.POSITIVE_INFINITY;
    let k = 0;
    for (const s of n.samples) {
      if (now - s.at > WINDOW_MS) continue;
      k++;
      best = Math.min(best, s.ms);
    }
    return k >= MIN_SAMPLES ? best : Number.NaN;
  }

  echo(token: bigint, now: number): void {
    const f = this.#inFlight.get(token);
    if (!f) return;
    this.#inFlight.delete(token);
    const n = this.#n.get(f.peerIdHex);
    if (!n) return;
    this.counters.echoes++;
    n.misses = 0;
    if (n.dead) {
      n.dead = false;
      this.#o.onAlive?.(n.peerIdHex, now);
    }
    n.samples.push({ at: now, ms: Math.max(0.01, now - f.at) });
    if (n.samples.length > MAX_SAMPLES) n.samples.shift();
  }

  tick(now: number): void {
    for (const [t, f] of this.#inFlight) {
      if (now - f.at <= ECHO_TIMEOUT_MS) continue;
      this.#inFlight.delete(t);
      const n = this.#n.get(f.peerIdHex);
      if (!n || !f.counts || ++n.misses < DEAD_AFTER_MISSES || n.dead) continue;
      n.dead = true;
      this.#o.onDead?.(n.peerIdHex, now);
    }
    for (const n of this.#n.values()) {
      if (now >= n.nextAt) {
        n.nextAt = now + BACKGROUND_MS;
        n.nextConfirmAt = now + CONFIRM_PROBE_MS;
        this.#send(n, true, now);
      } else if (n.samples.length === 0 && now >= n.nextConfirmAt) {
        n.nextConfirmAt = now + CONFIRM_PROBE_MS;
        this.#send(n, false, now);
      }
    }
  }

  #send(n: Neighbour, counts: boolean, now: number): void {
    const token = this.#token++;
    if (this.#o.probe(n.peerIdHex, token, now)) {
      this.counters.probes++;
      this.#inFlight.set(token, { peerIdHex: n.peerIdHex, at: now, counts });
    }
  }
}
