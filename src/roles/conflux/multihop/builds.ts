/**
 * Carries out the agent's `build` actions: resolves open routes from the claims (health-board.ts),
 * waits briefly for the first hop's link to answer a link probe and for the hops' certificates (a
 * restarted node rebuilds its stored routes before its links are up, and a cell sent before the
 * peer has installed the session is lost, with no retransmission), telescopes the path through
 * PathService, and times each extension so the agent learns the RTT to every prefix of the route (its liar check needs them).
 *
 *   prefixRtt[k] = arrival of hop k's CREATED/EXTENDED − sending of the cell that asked for it
 *
 * Each extension crosses the whole prefix, so this is the round trip to hop k (plus the hop's KEM).
 */
import type { HopInfo } from "../../../anchor/path/hop-key.ts";
import type { OriginPath } from "../../../anchor/path/origin.ts";
import type { PathService } from "../../../anchor/path/service.ts";
import type { Action, Hops, NodeId, Observation } from "../../../rl/types.ts";
import type { HealthBoard } from "./health-board.ts";
import { wallMs } from "./inband.ts";
import { StallWatch } from "./stall-watch.ts";

/** A build whose first hop has no link (or a hop no certificate) yet waits this long, then fails. */
export const BUILD_WAIT_MS = 8_000;
/** A build the claims cannot resolve is logged at most this often. */
const UNRESOLVED_LOG_MS = 10_000;

type BuildAction = Extract<Action, { type: "build" }>;

export interface OriginRecord {
  readonly id: number;
  readonly dest: NodeId;
  readonly hops: Hops;
  readonly claimsMs: readonly number[];
  readonly path: OriginPath;
  ready: boolean;
  /** Time the last cell that asked for an extension left (build start, then each extension). */
  askedAt: number;
  readonly prefixRttMs: number[];
  lastAckAskAt: number;
  /** Unacknowledged ACK_ASKs on this path (fast stall detection while it carries data). */
  readonly stall: StallWatch;
}

export interface BuildDeps {
  readonly self: NodeId;
  readonly hopCap: number;
  readonly board: HealthBoard;
  readonly paths: PathService;
  /** Certified KEM keys of a node, or null when its certificate is unknown. */
  readonly hopInfo: (n: NodeId) => HopInfo | null;
  /** A link session to `n` is up and has answered a link probe (both ends hold its keys). */
  readonly hasLink: (n: NodeId) => boolean;
  readonly observe: (o: Observation) => void;
  readonly onOriginData: (o: OriginRecord, plaintext: Uint8Array, now: number) => void;
  readonly log: (line: string) => void;
}

export class Builds {
  readonly origins = new Map<number, OriginRecord>();
  readonly #building = new Set<OriginRecord>();
  readonly #waiting = new Map<number, { a: BuildAction; since: number }>();
  readonly counters = { started: 0, ready: 0, failed: 0, unresolved: 0 };
  readonly #d: BuildDeps;
  #unresolvedLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(d: BuildDeps) {
    this.#d = d;
  }

  start(a: BuildAction, now: number): void {
    this.#waiting.set(a.buildId, { a, since: now });
    this.#try(a.buildId, now);
  }

  /** Retries waiting builds; call on every tick. */
  tick(now: number): void {
    for (const id of [...this.#waiting.keys()]) this.#try(id, now);
  }

  retire(id: number, now: number): void {
    this.#waiting.delete(id);
    const o = this.origins.get(id);
    if (!o) return;
    this.origins.delete(id);
    this.#building.delete(o);
    o.path.close(now);
  }

  closeAll(now: number): void {
    for (const id of [...this.origins.keys()]) this.retire(id, now);
    this.#waiting.clear();
  }

  /** Wraps one cell delivery: records when building paths reached their next hop. */
  deliver(now: number, fn: () => void): void {
    if (this.#building.size === 0) {
      fn();
      return;
    }
    const before = new Map<OriginRecord, number>();
    for (const o of this.#building) before.set(o, o.path.reached);
    fn();
    const after = wallMs();
    for (const [o, r] of before) {
      if (o.path.reached <= r) continue;
      o.prefixRttMs.push(Math.max(0.01, now - o.askedAt));
      o.askedAt = after;
    }
  }

  #try(id: number, now: number): void {
    const w = this.#waiting.get(id);
    if (!w) return;
    const { a } = w;
    const d = this.#d;
    let hops: readonly NodeId[];
    let claims: number[];
    if (a.hops) {
      hops = a.hops;
      claims = a.hops.map((_, i) => (i === a.hops!.length - 1 ? 0 : Number.NaN));
    } else {
      const r = d.board.resolve(d.self, a.firstHop, a.dest, a.avoid, d.hopCap);
      if (!r) {
        this.counters.unresolved++;
        if (now - this.#unresolvedLoggedAt >= UNRESOLVED_LOG_MS) {
          this.#unresolvedLoggedAt = now;
          d.log(
            `path build to ${a.dest} from ${a.firstHop}: no route in the claims ` +
              `(${a.firstHop} advertises ${d.board.describe(a.firstHop, a.dest)}; avoiding [${a.avoid.join(",")}])`,
          );
        }
        this.#fail(id);
        return;
      }
      hops = r.hops;
      // The hops' claims are not handed to the agent's build check: prefix RTTs timed in a
      // JavaScript event loop include stalls of tens of ms at any hop, which made honest hops
      // "inconsistent" (suspected for the 15-min half-life). Choice rests on path probes instead.
      claims = r.claimsMs.map((_, i) => (i === r.claimsMs.length - 1 ? 0 : Number.NaN));
    }
    if (hops.length < 2) {
      // A one-hop route is the direct link session, which the native data plane carries.
      this.#fail(id);
      return;
    }
    const route: HopInfo[] = [];
    for (const h of hops) {
      const info = d.hopInfo(h);
      if (info) route.push(info);
    }
    if (route.length !== hops.length || !d.hasLink(hops[0]!)) {
      if (now - w.since > BUILD_WAIT_MS) this.#fail(id);
      return;
    }
    this.#waiting.delete(id);
    let rec: OriginRecord | undefined;
    try {
      const path = d.paths.build(
        route,
        {
          onReady: (_p, t) => {
            if (!rec) return;
            rec.ready = true;
            this.#building.delete(rec);
            this.counters.ready++;
            const prefix = rec.prefixRttMs.slice(0, hops.length);
            while (prefix.length < hops.length) prefix.push(Math.max(0.01, t - rec.askedAt));
            d.observe({ type: "built", buildId: id, hops, prefixRttMs: prefix, claimsMs: claims });
          },
          onData: (_p, plain, t) => {
            if (rec) d.onOriginData(rec, plain, t);
          },
          onClosed: () => {
            if (!rec || this.origins.get(id) !== rec) return;
            this.origins.delete(id);
            this.#building.delete(rec);
            if (rec.ready) d.observe({ type: "pathFailed", pathId: id });
            else this.#fail(id);
          },
        },
        now,
      );
      rec = {
        id,
        dest: a.dest,
        hops,
        claimsMs: claims,
        path,
        ready: false,
        askedAt: wallMs(),
        prefixRttMs: [],
        lastAckAskAt: Number.NEGATIVE_INFINITY,
        stall: new StallWatch(),
      };
      if (path.state === "failed") {
        this.#fail(id);
        return;
      }
      this.origins.set(id, rec);
      this.#building.add(rec);
      this.counters.started++;
    } catch (e) {
      d.log(`path build ${id} refused: ${String(e)}`);
      this.#fail(id);
    }
  }

  #fail(id: number): void {
    this.#waiting.delete(id);
    this.counters.failed++;
    this.#d.observe({ type: "buildFailed", buildId: id });
  }
}
