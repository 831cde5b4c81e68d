/** `mesh.sh status`: the run's hosts, links and processes as readable tables (or JSON). */
import type { Plan } from "./plan.ts";
import { isAlive, type LinkCondition, listProcs, type RunState, readCondition } from "./state.ts";

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function describeCondition(c: LinkCondition): string[] {
  return [
    c.down ? "down" : "up",
    c.lossPct !== undefined ? `${c.lossPct}%` : "-",
    c.rateMbit !== undefined ? `${c.rateMbit}Mbit` : "-",
    c.delayMs !== undefined ? `+${c.delayMs}ms rtt` : "-",
  ];
}

export function statusJson(state: RunState): unknown {
  const plan = state.plan;
  return {
    prefix: state.prefix,
    topology: plan.topology,
    phase: state.phase,
    createdAt: state.createdAt,
    owner: state.owner,
    nodes: plan.nodes,
    edges: plan.edges.map((e) => ({ ...e, condition: readCondition(plan.prefix, e.index) })),
    processes: listProcs(plan.prefix).filter((p) => isAlive(p)),
  };
}

export function statusText(state: RunState): string {
  const plan: Plan = state.plan;
  const owner = state.owner ? `pid ${state.owner.pid}` : "none (persistent)";
  const head = `prefix ${plan.prefix}  topology ${plan.topology}  phase ${state.phase}  created ${state.createdAt}  owner ${owner}`;
  const hostRows: string[][] = [];
  for (const n of plan.nodes) {
    const ends = plan.edges.flatMap((e) =>
      e.ends.map((end, i) => ({ end, peer: e.ends[1 - i]!.node })).filter((x) => x.end.node === n.name),
    );
    const extra = [
      n.forward ? "forward" : "",
      n.nat ? `nat:${n.nat.mode}` : "",
      n.gateway ? `gw ${n.gateway.via}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    if (ends.length === 0) hostRows.push([n.name, n.kind, n.netns, "-", "-", "-", extra]);
    ends.forEach(({ end, peer }, i) => {
      const addr = end.address ? `${end.address}/${end.prefixLen}` : "(bridge port)";
      hostRows.push(
        i === 0
          ? [n.name, n.kind, n.netns, end.ifname, addr, peer, extra]
          : ["", "", "", end.ifname, addr, peer, ""],
      );
    });
  }
  const linkRows = plan.edges.map((e) => [
    `${e.ends[0].node}–${e.ends[1].node}`,
    e.subnet,
    `${e.ends[0].ifname}/${e.ends[1].ifname}`,
    ...describeCondition(readCondition(plan.prefix, e.index)),
  ]);
  const procRows = listProcs(plan.prefix)
    .filter((p) => isAlive(p))
    .map((p) => [String(p.pid), p.host, p.kind, p.argv.join(" ").slice(0, 70)]);
  return [
    head,
    "",
    table(["NODE", "KIND", "NETNS", "INTERFACE", "ADDRESS", "PEER", "NOTES"], hostRows),
    "",
    table(["LINK", "SUBNET", "INTERFACES", "STATE", "LOSS", "RATE", "DELAY"], linkRows),
    "",
    procRows.length > 0
      ? table(["PID", "HOST", "KIND", "COMMAND"], procRows)
      : "no processes started by the harness",
  ].join("\n");
}
