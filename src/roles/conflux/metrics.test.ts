import { describe, expect, test } from "bun:test";
import { RX_COUNTERS, TX_COUNTERS } from "./dataplane/layout.ts";
import { PEER_STATES } from "./local-views.ts";
import { type MetricsInput, renderMetrics, snake } from "./metrics.ts";
import { MetricFormatError, parseExposition, renderExposition } from "./prometheus-text.ts";

/** Every counter the native data plane has, with distinct values so a mix-up shows. */
function input(): MetricsInput {
  const dataplane: Record<string, number> = { controlHandlerErrors: 0 };
  [...TX_COUNTERS, ...RX_COUNTERS].forEach((name, i) => {
    dataplane[name] = 1000 + i;
  });
  return {
    dataplane,
    handshakes: { dropped: 4, rejected: 3, established: 7, failed: 1, underLoad: 0 },
    peerManager: { presenceRejected: 0, sessionsTornDown: 2, roamed: 1 },
    controlDrops: { badSignature: 2, handlerError: 0 },
    peers: [
      {
        id: "a1".repeat(32),
        ipv4: "100.64.0.2",
        state: "up",
        sessionAgeS: 12,
        rxBytes: 5000,
        txBytes: 6000,
        rxPackets: 50,
        txPackets: 60,
      },
      {
        id: "b2".repeat(32),
        ipv4: "100.64.0.3",
        state: "known",
        sessionAgeS: null,
        rxBytes: 0,
        txBytes: 0,
        rxPackets: 0,
        txPackets: 0,
      },
    ],
    peerStates: PEER_STATES,
    multihop: {
      router: { sentOnPath: 9, noPath: 1 },
      builds: { started: 3, ready: 2, failed: 1, unresolved: 0 },
      links: { cellsIn: 10, cellsOut: 11 },
      agent: { switches: 2, failovers: 1 },
      pathTun: { rxPackets: 4, txPackets: 5 },
      relayedCells: 77,
      relayedPaths: 1,
    },
    events: { emitted: 42, followers: 1, followerDropped: 5 },
    process: { rssBytes: 50 * 1024 * 1024, heapBytes: 1e7, uptimeSeconds: 3600 },
  };
}

const sample = (text: string, name: string, labels: Record<string, string> = {}) => {
  const f = parseExposition(text).families.get(name);
  return f?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
};

describe("metrics", () => {
  test("the node's metrics parse back line by line as exposition format 0.0.4", () => {
    const text = renderMetrics(input());
    const parsed = parseExposition(text);
    for (const [name, f] of parsed.families) {
      expect(name.startsWith("veilnet_")).toBe(true);
      if (f.type === "counter") expect(name.endsWith("_total")).toBe(true);
      expect(f.samples.length).toBeGreaterThan(0);
    }
    // Every data-plane counter is exported exactly once, under its name or as a drop reason.
    const dpSamples = [...parsed.families]
      .filter(([n]) => n.startsWith("veilnet_dataplane_"))
      .reduce((n, [, f]) => n + f.samples.length, 0);
    expect(dpSamples).toBe(TX_COUNTERS.length + RX_COUNTERS.length + 1);
    console.log(`metrics: ${parsed.families.size} families, ${text.split("\n").length - 1} lines`);
  });

  test("names, units and labels carry the values they should", () => {
    const m = input();
    const text = renderMetrics(m);
    expect(sample(text, "veilnet_dataplane_packets_total", { direction: "tx" })).toBe(m.dataplane.txPackets);
    expect(sample(text, "veilnet_dataplane_bytes_total", { direction: "rx" })).toBe(m.dataplane.rxBytes);
    expect(
      sample(text, "veilnet_dataplane_dropped_packets_total", { direction: "rx", reason: "bad_tag" }),
    ).toBe(m.dataplane.dropRxBadTag);
    expect(
      sample(text, "veilnet_dataplane_dropped_packets_total", { direction: "tx", reason: "no_route" }),
    ).toBe(m.dataplane.dropTxNoRoute);
    expect(sample(text, "veilnet_dataplane_control_datagrams_total")).toBe(m.dataplane.rxControl);
    expect(sample(text, "veilnet_handshakes_total", { result: "established" })).toBe(7);
    expect(sample(text, "veilnet_control_dropped_messages_total", { reason: "bad_signature" })).toBe(2);
    expect(sample(text, "veilnet_peers", { state: "up" })).toBe(1);
    expect(sample(text, "veilnet_peers", { state: "blocked" })).toBe(0);
    expect(sample(text, "veilnet_sessions")).toBe(1);
    expect(sample(text, "veilnet_peer_sent_bytes_total", { peer: "a1".repeat(8), ipv4: "100.64.0.2" })).toBe(
      6000,
    );
    // A peer without a session has no per-peer series.
    expect(sample(text, "veilnet_peer_sent_bytes_total", { ipv4: "100.64.0.3" })).toBeUndefined();
    expect(sample(text, "veilnet_multihop_path_builds_total", { result: "ready" })).toBe(2);
    expect(sample(text, "veilnet_multihop_relayed_cells_total")).toBe(77);
    expect(sample(text, "veilnet_process_resident_memory_bytes")).toBe(50 * 1024 * 1024);
    expect(sample(text, "veilnet_event_follower_dropped_total")).toBe(5);
    expect(text).toContain("# TYPE veilnet_sessions gauge\n");
    expect(text).toContain("# TYPE veilnet_dataplane_dropped_packets_total counter\n");
    expect(snake("dropRxMalformedHeader")).toBe("drop_rx_malformed_header");
  });

  test("without multi-hop (embedded mode) the multihop families are absent, the rest still valid", () => {
    const { multihop: _, ...rest } = input();
    const text = renderMetrics(rest);
    expect([...parseExposition(text).families.keys()].some((n) => n.includes("multihop"))).toBe(false);
  });

  test("label values are escaped and read back intact", () => {
    const text = renderExposition([
      {
        name: "veilnet_test_total",
        help: 'a \\ help\nline "q"',
        type: "counter",
        samples: [{ labels: { v: 'back\\slash "quote"\nnewline' }, value: 1 }],
      },
    ]);
    const f = parseExposition(text).families.get("veilnet_test_total")!;
    expect(f.samples[0]!.labels.v).toBe('back\\slash "quote"\nnewline');
    expect(f.help).toBe('a \\ help\nline "q"');
  });

  test("the reader refuses malformed exposition text", () => {
    const ok = "# HELP a_total x\n# TYPE a_total counter\na_total 1\n";
    expect(() => parseExposition(ok)).not.toThrow();
    const bad = [
      "# HELP a_total x\n# TYPE a_total counter\na_total 1", // no final newline
      "# HELP a x\n# TYPE a counter\na 1\n", // counter without _total
      "a_total 1\n", // sample before HELP/TYPE
      "# HELP a_total x\n# TYPE a_total counter\na_total 1\na_total 2\n", // duplicate series
      '# HELP a_total x\n# TYPE a_total counter\na_total{l="1",l="2"} 1\n', // label twice
      '# HELP a_total x\n# TYPE a_total counter\na_total{l="\\x"} 1\n', // bad escape
      "# HELP a_total x\n# TYPE a_total counter\na_total one\n", // bad value
      "# HELP a_total x\n# TYPE a_total counter\na_total -1\n", // negative counter
      "# HELP a_total x\n# TYPE a_total counter\n# HELP b x\n# TYPE b gauge\nb 1\na_total 1\n", // not contiguous
      "# HELP a x\n# TYPE a histogram\na 1\n", // type not exported here
      "# HELP a_total x\n# TYPE a_total counter\n\na_total 1\n", // empty line
      "# HELP a_total x\n# TYPE a_total counter\n# TYPE a_total counter\na_total 1\n", // TYPE twice
    ];
    for (const text of bad) expect(() => parseExposition(text)).toThrow(MetricFormatError);
  });
});
