/**
 * `veilnet metrics`: the node's counters and gauges as Prometheus text (prometheus-text.ts).
 * Names carry their unit (`_bytes`, `_seconds`, `_packets`), counters end in `_total`, and one
 * family is split by label rather than by name where the reason or direction varies:
 *
 *   veilnet_dataplane_packets_total{direction="rx"}          txPackets / rxPackets
 *   veilnet_dataplane_dropped_packets_total{direction,reason} dropTxNoRoute → tx, no_route …
 *   veilnet_handshakes_total{result}                          established / failed / rejected / dropped
 *   veilnet_peers{state} · veilnet_sessions                   gauges
 *   veilnet_peer_received_bytes_total{peer,ipv4} …            per peer with a session
 *   veilnet_multihop_*                                        multi-hop plane and routing agent
 *   veilnet_process_resident_memory_bytes                     VmRSS
 */
import { type Labels, type MetricFamily, renderExposition } from "./prometheus-text.ts";

export interface MetricsPeer {
  readonly id: string;
  readonly ipv4: string;
  readonly state: string;
  readonly sessionAgeS: number | null;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
}

export interface MetricsInput {
  readonly dataplane: Readonly<Record<string, number>>;
  readonly handshakes: Readonly<Record<string, number>>;
  readonly peerManager: Readonly<Record<string, number>>;
  readonly controlDrops: Readonly<Record<string, number>> | null;
  readonly peers: readonly MetricsPeer[];
  readonly peerStates: readonly string[];
  readonly multihop?: {
    readonly router: Readonly<Record<string, number>>;
    readonly builds: Readonly<Record<string, number>>;
    readonly links: Readonly<Record<string, number>>;
    readonly agent: Readonly<Record<string, number>>;
    readonly pathTun: Readonly<Record<string, number>>;
    readonly relayedCells: number;
    readonly relayedPaths: number;
  };
  readonly events: { readonly emitted: number; readonly followers: number; readonly followerDropped: number };
  readonly process: { readonly rssBytes: number; readonly heapBytes: number; readonly uptimeSeconds: number };
}

/** Data-plane counter names that do not follow the tx…/rx… + noun pattern. */
const DATAPLANE_NAMES: Readonly<Record<string, string>> = {
  rxControl: "control_datagrams",
  controlHandlerErrors: "control_handler_errors",
};
const HANDSHAKE_RESULTS = new Set(["established", "failed", "rejected", "dropped"]);
/** Peer ids in labels are shortened to this many hex digits (as in `veilnet peers`). */
export const PEER_LABEL_HEX = 16;

export function renderMetrics(input: MetricsInput): string {
  return renderExposition(buildFamilies(input));
}

export function buildFamilies(m: MetricsInput): MetricFamily[] {
  const fams = new Families();
  for (const [key, value] of numeric(m.dataplane)) {
    const drop = /^drop(Tx|Rx)(.+)$/.exec(key);
    if (drop) {
      fams.add(
        "veilnet_dataplane_dropped_packets_total",
        "counter",
        "Packets the data plane dropped, by direction and reason.",
        value,
        { direction: drop[1]!.toLowerCase(), reason: snake(drop[2]!) },
      );
      continue;
    }
    const dir = /^(tx|rx)(.+)$/.exec(key);
    const noun = DATAPLANE_NAMES[key] ?? (dir ? snake(dir[2]!) : snake(key));
    const labels = dir && !DATAPLANE_NAMES[key] ? { direction: dir[1]! } : undefined;
    fams.add(
      `veilnet_dataplane_${noun}_total`,
      "counter",
      `Data plane ${noun.replace(/_/g, " ")}${labels ? ", by direction" : ""}.`,
      value,
      labels,
    );
  }
  for (const [key, value] of numeric(m.handshakes)) {
    if (HANDSHAKE_RESULTS.has(key))
      fams.add("veilnet_handshakes_total", "counter", "Handshake messages and dials by result.", value, {
        result: key,
      });
    else
      fams.add(
        `veilnet_handshakes_${snake(key)}_total`,
        "counter",
        `Handshakes: ${snake(key).replace(/_/g, " ")}.`,
        value,
      );
  }
  for (const [key, value] of numeric(m.peerManager))
    fams.add(
      `veilnet_peer_manager_${snake(key)}_total`,
      "counter",
      `Peer manager: ${snake(key).replace(/_/g, " ")}.`,
      value,
    );
  for (const [reason, value] of numeric(m.controlDrops ?? {}))
    fams.add(
      "veilnet_control_dropped_messages_total",
      "counter",
      "Control-plane messages dropped, by reason.",
      value,
      { reason: snake(reason) },
    );

  const byState = new Map<string, number>(m.peerStates.map((s) => [s, 0]));
  for (const p of m.peers) byState.set(p.state, (byState.get(p.state) ?? 0) + 1);
  for (const [state, n] of byState)
    fams.add("veilnet_peers", "gauge", "Peers known to this node, by state.", n, { state });
  fams.add(
    "veilnet_sessions",
    "gauge",
    "Anchor sessions installed in the data plane.",
    byState.get("up") ?? 0,
  );
  for (const p of m.peers) {
    if (p.state !== "up") continue;
    const labels = { peer: p.id.slice(0, PEER_LABEL_HEX), ipv4: p.ipv4 };
    fams.add(
      "veilnet_peer_received_bytes_total",
      "counter",
      "Inner bytes received from the peer in its current session.",
      p.rxBytes,
      labels,
    );
    fams.add(
      "veilnet_peer_sent_bytes_total",
      "counter",
      "Inner bytes sent to the peer in its current session.",
      p.txBytes,
      labels,
    );
    fams.add(
      "veilnet_peer_received_packets_total",
      "counter",
      "Packets received from the peer in its current session.",
      p.rxPackets,
      labels,
    );
    fams.add(
      "veilnet_peer_sent_packets_total",
      "counter",
      "Packets sent to the peer in its current session.",
      p.txPackets,
      labels,
    );
    fams.add(
      "veilnet_peer_session_age_seconds",
      "gauge",
      "Seconds since the peer's session was established or last rekeyed.",
      p.sessionAgeS ?? 0,
      labels,
    );
  }

  const mh = m.multihop;
  if (mh) {
    for (const [k, v] of numeric(mh.router))
      fams.add(`veilnet_multihop_${snake(k)}_total`, "counter", `Multi-hop: ${words(k)}.`, v);
    for (const [k, v] of numeric(mh.builds))
      fams.add(
        "veilnet_multihop_path_builds_total",
        "counter",
        "Path builds this node began, by outcome.",
        v,
        {
          result: snake(k),
        },
      );
    for (const [k, v] of numeric(mh.links))
      fams.add(`veilnet_multihop_cell_link_${snake(k)}_total`, "counter", `Cell links: ${words(k)}.`, v);
    for (const [k, v] of numeric(mh.agent))
      fams.add(`veilnet_multihop_agent_${snake(k)}_total`, "counter", `Routing agent: ${words(k)}.`, v);
    for (const [k, v] of numeric(mh.pathTun))
      fams.add(`veilnet_multihop_path_tun_${snake(k)}_total`, "counter", `Path TUN: ${words(k)}.`, v);
    fams.add(
      "veilnet_multihop_relayed_cells_total",
      "counter",
      "Path cells this node relayed for others.",
      mh.relayedCells,
    );
    fams.add("veilnet_multihop_relayed_paths", "gauge", "Paths this node relays for now.", mh.relayedPaths);
  }

  fams.add("veilnet_events_total", "counter", "Node events recorded.", m.events.emitted);
  fams.add("veilnet_event_followers", "gauge", "Clients following events now.", m.events.followers);
  fams.add(
    "veilnet_event_follower_dropped_total",
    "counter",
    "Events dropped for slow followers.",
    m.events.followerDropped,
  );
  fams.add(
    "veilnet_process_resident_memory_bytes",
    "gauge",
    "Resident set size of the node process.",
    m.process.rssBytes,
  );
  fams.add("veilnet_process_heap_bytes", "gauge", "JavaScript heap in use.", m.process.heapBytes);
  fams.add(
    "veilnet_process_uptime_seconds",
    "gauge",
    "Seconds since the node started.",
    m.process.uptimeSeconds,
  );
  return fams.list();
}

/** Families in first-seen order, samples grouped under them. */
class Families {
  readonly #byName = new Map<
    string,
    { name: string; help: string; type: "counter" | "gauge"; samples: { labels?: Labels; value: number }[] }
  >();

  add(name: string, type: "counter" | "gauge", help: string, value: number, labels?: Labels): void {
    let f = this.#byName.get(name);
    if (!f) {
      f = { name, help, type, samples: [] };
      this.#byName.set(name, f);
    }
    f.samples.push(labels ? { labels, value } : { value });
  }

  list(): MetricFamily[] {
    return [...this.#byName.values()];
  }
}

/** Finite, non-negative numbers only: anything else in a counter record is not exported. */
function numeric(record: Readonly<Record<string, unknown>>): [string, number][] {
  return Object.entries(record).filter(
    (e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1]) && e[1] >= 0,
  );
}

/** camelCase → snake_case. */
export function snake(s: string): string {
  return s
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .replace(/[^a-zA-Z0-9_]/g, "_")
    .toLowerCase();
}

const words = (k: string) => snake(k).replace(/_/g, " ");
