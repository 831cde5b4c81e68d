/**
 * Human output of the local commands: what the node's control socket answered, as aligned tables.
 * Every function takes the parsed JSON as `unknown` and prints "-" for whatever is missing or of the
 * wrong type, so an older or newer node never makes the CLI throw.
 */
import {
  clean,
  formatBytes,
  formatCount,
  formatDuration,
  renderPairs,
  renderTable,
  shortId,
  str,
} from "./table.ts";

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Rec) : {});
const recs = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(rec) : []);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** `veilnet peers`. */
export function formatPeers(peers: unknown): string {
  const rows = recs(peers);
  if (rows.length === 0) return "no peers known yet";
  return renderTable(
    [
      { header: "PEER" },
      { header: "IPV4" },
      { header: "IPV6" },
      { header: "STATE" },
      { header: "ENDPOINT" },
      { header: "HANDSHAKE", right: true },
      { header: "RX", right: true },
      { header: "TX", right: true },
      { header: "RX PKTS", right: true },
      { header: "TX PKTS", right: true },
      { header: "TAINTS" },
    ],
    rows.map((p) => [
      shortId(p.id),
      str(p.ipv4),
      str(p.ipv6),
      p.blocked ? `blocked (${str(p.blocked)})` : str(p.state),
      str(p.endpoint),
      num(p.sessionAgeS) === undefined ? "-" : `${formatDuration(p.sessionAgeS)} ago`,
      formatBytes(p.rxBytes),
      formatBytes(p.txBytes),
      formatCount(p.rxPackets),
      formatCount(p.txPackets),
      Array.isArray(p.taints) && p.taints.length ? p.taints.map(str).join(",") : "-",
    ]),
  );
}

/** `veilnet sessions`: one row per Anchor session. */
export function formatSessions(sessions: unknown): string {
  const rows = recs(sessions);
  if (rows.length === 0) return "no sessions";
  return renderTable(
    [
      { header: "PEER" },
      { header: "IPV4" },
      { header: "ENDPOINT" },
      { header: "ROLE" },
      { header: "LOCAL IDX" },
      { header: "REMOTE IDX" },
      { header: "ESTABLISHED", right: true },
      { header: "REKEY DUE", right: true },
      { header: "REKEYS", right: true },
      { header: "SEND CTR", right: true },
      { header: "RX", right: true },
      { header: "TX", right: true },
      { header: "SUITE" },
    ],
    rows.map((s) => {
      const due = num(s.rekeyDueInS);
      return [
        shortId(s.peer),
        str(s.ipv4),
        str(s.endpoint),
        s.initiator === true ? "initiator" : s.initiator === false ? "responder" : "-",
        hex32(s.localIndex),
        hex32(s.remoteIndex),
        num(s.establishedAgoS) === undefined ? "-" : `${formatDuration(s.establishedAgoS)} ago`,
        due === undefined ? "-" : due < 0 ? `overdue ${formatDuration(-due)}` : `in ${formatDuration(due)}`,
        formatCount(s.rekeys),
        formatCount(s.sendCounter),
        formatBytes(s.rxBytes),
        formatBytes(s.txBytes),
        str(s.suite),
      ];
    }),
  );
}

/** `veilnet status`: the node, then its peers. */
export function formatStatus(status: unknown): string {
  const s = rec(status);
  const peers = recs(s.peers);
  const byState = new Map<string, number>();
  for (const p of peers) byState.set(str(p.state), (byState.get(str(p.state)) ?? 0) + 1);
  const dp = rec(s.dataplane);
  const rev = rec(s.revocations);
  const head = renderPairs([
    ["node", `${str(s.node)}  realm ${str(s.realm)}`],
    ["addresses", `${str(s.ipv4)}  ${str(s.ipv6)}`],
    ["interface", `${str(s.tun)}  anchor udp ${str(s.port)}`],
    ["uptime", formatDuration(s.uptimeS)],
    ["credentials", `valid until ${str(s.credentialsExpireAt)}`],
    ["master", str(s.master)],
    ["taints", Array.isArray(s.taints) && s.taints.length ? s.taints.map(str).join(",") : "-"],
    ["quarantined", s.quarantined ? str(s.quarantined) : "no"],
    ["revocations", `${formatCount(rev.entries)} entries (sequence ${formatCount(rev.sequence)})`],
    ["peers", peers.length ? [...byState].map(([state, n]) => `${n} ${state}`).join(", ") : "none known yet"],
    [
      "traffic",
      `rx ${formatBytes(dp.rxBytes)} (${formatCount(dp.rxPackets)} pkts)  tx ${formatBytes(dp.txBytes)} (${formatCount(dp.txPackets)} pkts)`,
    ],
    ["drops", summariseDrops(dp)],
  ]);
  return peers.length ? `${head}\n\n${formatPeers(peers)}` : head;
}

/** "none", or "rx bad_tag 3, tx no_route 1" (largest first). */
export function summariseDrops(counters: Rec): string {
  const drops = Object.entries(counters)
    .map(([k, v]) => [/^drop(Tx|Rx)(.+)$/.exec(k), num(v) ?? 0] as const)
    .filter(([m, v]) => m && v > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([m, v]) => `${m![1]!.toLowerCase()} ${snake(m![2]!)} ${v}`);
  return drops.length ? drops.join(", ") : "none";
}

/** `veilnet counters`: non-zero counters by section (zeros are counted, not listed). */
export function formatCounters(counters: unknown): string {
  const c = rec(counters);
  const out: string[] = [];
  for (const [section, values] of Object.entries(c)) {
    const entries = Object.entries(rec(values)).filter(([, v]) => typeof v === "number");
    const nonZero = entries.filter(([, v]) => v !== 0);
    out.push(
      `${section}${nonZero.length < entries.length ? ` (${entries.length - nonZero.length} zero)` : ""}`,
    );
    if (nonZero.length) out.push(renderPairs(nonZero.map(([k, v]) => [`  ${k}`, String(v)] as const)));
  }
  return out.join("\n");
}

/** `veilnet routes`: destinations with their active and standby paths, then neighbours. */
export function formatRoutes(routes: unknown): string {
  const r = rec(routes);
  if (typeof r.error === "string") return clean(r.error);
  const hops = (h: unknown) => (Array.isArray(h) ? h.map(str).join(" → ") : "-");
  const dests = recs(r.destinations);
  const neighbours = recs(r.neighbours);
  const parts = [
    dests.length
      ? renderTable(
          [
            { header: "DESTINATION" },
            { header: "ACTIVE PATH" },
            { header: "FOR", right: true },
            { header: "STANDBY" },
            { header: "CANDIDATES", right: true },
            { header: "BEST RTT", right: true },
          ],
          dests.map((d) => {
            const rtts = recs(d.candidates)
              .map((c) => num(c.rttMs))
              .filter((x): x is number => x !== undefined);
            return [
              str(d.dest),
              hops(d.active),
              num(d.activeForS) === undefined ? "-" : formatDuration(d.activeForS),
              hops(d.standby),
              String(recs(d.candidates).length),
              rtts.length ? `${Math.min(...rtts).toFixed(2)} ms` : "-",
            ];
          }),
        )
      : "no multi-hop destinations",
    neighbours.length
      ? renderTable(
          [
            { header: "NEIGHBOUR" },
            { header: "LINK" },
            { header: "RTT", right: true },
            { header: "SUSPICION", right: true },
          ],
          neighbours.map((n) => [
            str(n.node),
            n.up === true ? "up" : "down",
            num(n.rttMs) === undefined ? "-" : `${num(n.rttMs)!.toFixed(2)} ms`,
            formatCount(n.suspicion),
          ]),
        )
      : "no neighbours",
  ];
  return parts.join("\n\n");
}

/** One event as a line: time, type, peer, details. */
export function formatEvent(event: unknown): string {
  const e = rec(event);
  const at = num(e.at);
  const time = at === undefined ? "-" : new Date(at).toISOString();
  const detail = Object.entries(rec(e.detail))
    .map(([k, v]) => `${k}=${k.endsWith("Index") ? hex32(v) : str(v)}`)
    .join(" ");
  return clean(`${time}  ${str(e.type).padEnd(19)}  ${shortId(e.peer).padEnd(12)}  ${detail}`.trimEnd());
}

function hex32(v: unknown): string {
  const n = num(v);
  return n === undefined || n < 0 ? "-" : n.toString(16).padStart(8, "0");
}

function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}
