/**
 * Link RTTs to neighbours, measured with link probes (cell-links.ts) and filtered by a windowed
 * minimum. On links of a fraction of a millisecond, one echo mostly measures how long either
 * node's event loop was busy (a node verifying certificates or running KEMs stalls for tens of
 * milliseconds), and the agent checks every claim a neighbour makes about this node against the
 * link RTT, with a 2 ms slack: one stalled echo would make an honest neighbour look like a liar.
 * So a new link is probed WARMUP_PROBES times before the agent hears of it (with the minimum as
 * its first sample), every neighbour is probed every BACKGROUND_MS, and the agent's own link
 * probes are answered with the minimum over the last WINDOW_MS.
 */

/* Implementation constants */
export const WARMUP_PROBES = 6;
export const WARMUP_SPACING_MS = 150;
export const BACKGROUND_MS = 5_000;
export const WINDOW_MS = 60_000;
const ECHO_TIMEOUT_MS = 2_000;
const MAX_SAMPLES = 64;

interface Neighbour {
  readonly peerIdHex: string;
  readonly upAt: number;
  warmupSent: number;
  nextAt: number;
  announced: boolean;
  readonly samples: { at: number; ms: number }[];
}

export interface LinkRttOptions {
  /** Sends a link probe with `token`; false if it could not be sent. */
  readonly probe: (peerIdHex: string, token: bigint, now: number) => boolean;
  /** A new link finished its warm-up: `rttMs` is NaN when no echo came back. */
  readonly onReady: (peerIdHex: string, rttMs: number, now: number) => void;
}

export class LinkRtt {
  readonly #n = new Map<string, Neighbour>();
  readonly #inFlight = new Map<bigint, { peerIdHex: string; at: number }>();
  readonly #o: LinkRttOptions;
  #token = 1n;
  readonly counters = { probes: 0, echoes: 0 };

  constructor(o: LinkRttOptions) {
    this.#o = o;
  }

  up(peerIdHex: string, now: number): void {
    this.#n.set(peerIdHex, {
      peerIdHex,
      upAt: now,
      warmupSent: 0,
      nextAt: now,
      announced: false,
      samples: [],
    });
  }

  down(peerIdHex: string): void {
    this.#n.delete(peerIdHex);
  }

  isReady(peerIdHex: string): boolean {
    return this.#n.get(peerIdHex)?.announced ?? false;
  }

  /** Minimum RTT over the window, NaN if none. */
  minMs(peerIdHex: string, now: number): number {
    const n = this.#n.get(peerIdHex);
    if (!n) return Number.NaN;
    let best = Number.POSITIVE_INFINITY;
    for (const s of n.samples) if (now - s.at <= WINDOW_MS) best = Math.min(best, s.ms);
    return Number.isFinite(best) ? best : Number.NaN;
  }

  echo(token: bigint, now: number): void {
    const f = this.#inFlight.get(token);
    if (!f) return;
    this.#inFlight.delete(token);
    const n = this.#n.get(f.peerIdHex);
    if (!n) return;
    this.counters.echoes++;
    n.samples.push({ at: now, ms: Math.max(0.01, now - f.at) });
    if (n.samples.length > MAX_SAMPLES) n.samples.shift();
  }

  tick(now: number): void {
    for (const [t, f] of this.#inFlight) if (now - f.at > ECHO_TIMEOUT_MS) this.#inFlight.delete(t);
    for (const n of this.#n.values()) {
      if (now >= n.nextAt) {
        const warm = n.warmupSent < WARMUP_PROBES;
        n.nextAt = now + (warm ? WARMUP_SPACING_MS : BACKGROUND_MS);
        if (warm) n.warmupSent++;
        const token = this.#token++;
        if (this.#o.probe(n.peerIdHex, token, now)) {
          this.counters.probes++;
          this.#inFlight.set(token, { peerIdHex: n.peerIdHex, at: now });
        }
      }
      if (
        !n.announced &&
        n.warmupSent >= WARMUP_PROBES &&
        now - n.upAt >= (WARMUP_PROBES + 1) * WARMUP_SPACING_MS
      ) {
        n.announced = true;
        this.#o.onReady(n.peerIdHex, this.minMs(n.peerIdHex, now), now);
      }
    }
  }
}
