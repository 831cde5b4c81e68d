import { describe, expect, test } from "bun:test";
import {
  formatCounters,
  formatEvent,
  formatPeers,
  formatRoutes,
  formatSessions,
  formatStatus,
  summariseDrops,
} from "./local-format.ts";
import { formatBytes, formatDuration, renderTable } from "./table.ts";

const peer = (over: Record<string, unknown> = {}) => ({
  id: "3f2a9c1e5b7d0a11".padEnd(64, "0"),
  ipv4: "100.64.0.2",
  ipv6: "fd4e:1a2b:3c4d::2",
  state: "up",
  endpoint: "198.18.1.2:40123",
  sessionAgeS: 75,
  initiator: true,
  taints: ["web"],
  rxPackets: 1200,
  txPackets: 1100,
  rxBytes: 1_572_864,
  txBytes: 900,
  blocked: null,
  ...over,
});

describe("tables", () => {
  test("columns align to the widest cell; numbers right-aligned; no trailing spaces", () => {
    const t = renderTable(
      [{ header: "NAME" }, { header: "N", right: true }],
      [
        ["a", "1"],
        ["longer", "1000"],
      ],
    );
    expect(t).toBe("NAME       N\na          1\nlonger  1000");
  });

  test("units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(1_572_864)).toBe("1.5 MiB");
    expect(formatBytes(200 * 1024 * 1024)).toBe("200 MiB");
    expect(formatBytes("x")).toBe("-");
    expect(formatDuration(45)).toBe("45s");
    expect(formatDuration(185)).toBe("3m05s");
    expect(formatDuration(7380)).toBe("2h03m");
    expect(formatDuration(-30)).toBe("-30s");
    expect(formatDuration(null)).toBe("-");
  });
});

describe("local command output", () => {
  test("peers: one aligned row per peer, short id, traffic in units", () => {
    const out = formatPeers([
      peer(),
      peer({ id: "b".repeat(64), state: "known", sessionAgeS: null, endpoint: null }),
    ]);
    const lines = out.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^PEER\s+IPV4\s+IPV6\s+STATE\s+ENDPOINT\s+HANDSHAKE\s+RX\s+TX/);
    expect(lines[1]).toContain("3f2a9c1e5b7d ");
    expect(lines[1]).toContain("1m15s ago");
    expect(lines[1]).toContain("1.5 MiB");
    expect(lines[2]).toContain("bbbbbbbbbbbb");
    // Every row starts its STATE column at the same offset.
    const col = lines[0]!.indexOf("STATE");
    expect(lines[1]!.slice(col, col + 2)).toBe("up");
    expect(lines[2]!.slice(col, col + 5)).toBe("known");
    expect(formatPeers([])).toBe("no peers known yet");
  });

  test("sessions: indices in hex, role, rekey due or overdue, suite", () => {
    const out = formatSessions([
      {
        peer: "c".repeat(64),
        ipv4: "100.64.0.4",
        endpoint: "198.18.2.4:40001",
        localIndex: 0xdeadbeef,
        remoteIndex: 7,
        initiator: false,
        establishedAgoS: 130,
        rekeyDueInS: -10,
        rekeys: 2,
        sendCounter: 123456,
        rxBytes: 10,
        txBytes: 20,
        suite: "x25519+mlkem768/aes-256-gcm",
      },
    ]);
    expect(out).toContain("deadbeef");
    expect(out).toContain("00000007");
    expect(out).toContain("responder");
    expect(out).toContain("overdue 10s");
    expect(out).toContain("123456");
    expect(out).toContain("x25519+mlkem768/aes-256-gcm");
    expect(formatSessions([])).toBe("no sessions");
  });

  test("status: node facts, peer states, drops by reason, then the peers table", () => {
    const out = formatStatus({
      node: "ab".repeat(32),
      realm: "prod",
      ipv4: "100.64.0.1",
      ipv6: "fd4e::1",
      tun: "veil0",
      port: 40000,
      uptimeS: 3700,
      peers: [peer(), peer({ state: "known" })],
      dataplane: { rxBytes: 2048, rxPackets: 2, txBytes: 0, txPackets: 0, dropRxBadTag: 3, dropTxNoRoute: 9 },
      revocations: { entries: 1, sequence: 4 },
    });
    expect(out).toMatch(/^node\s+abab/);
    expect(out).toContain("1h01m");
    expect(out).toContain("1 up, 1 known");
    expect(out).toContain("tx no_route 9, rx bad_tag 3");
    expect(out).toContain("PEER");
    expect(summariseDrops({ dropRxShort: 0 })).toBe("none");
  });

  test("counters list non-zero values by section; routes and events format", () => {
    const c = formatCounters({
      dataplane: { rxPackets: 5, dropRxReplay: 0 },
      handshakes: { established: 2 },
    });
    expect(c).toContain("dataplane (1 zero)");
    expect(c).toMatch(/rxPackets\s+5/);
    expect(c).not.toContain("dropRxReplay");
    const r = formatRoutes({
      destinations: [
        {
          dest: "100.64.0.4",
          active: ["100.64.0.2", "100.64.0.4"],
          activeForS: 12,
          standby: null,
          candidates: [{ rttMs: 3.5 }, { rttMs: 1.25 }],
        },
      ],
      neighbours: [{ node: "100.64.0.2", up: true, rttMs: 0.5, suspicion: 0 }],
    });
    expect(r).toContain("100.64.0.2 → 100.64.0.4");
    expect(r).toContain("1.25 ms");
    expect(formatRoutes({ error: "no multi-hop routing (embedded mode)" })).toContain("embedded");
    const e = formatEvent({
      seq: 3,
      at: Date.UTC(2026, 10, 26, 8, 0, 0),
      type: "session.down",
      peer: "d".repeat(64),
      detail: { reason: "silent" },
    });
    expect(e).toBe("2026-11-26T08:00:00.000Z  session.down         dddddddddddd  reason=silent");
    expect(formatEvent({ type: "session.up", detail: { localIndex: 255, initiator: true } })).toContain(
      "localIndex=000000ff initiator=true",
    );
  });

  test("hostile or missing fields never throw and never reach the terminal raw", () => {
    const evil = { id: 5, ipv4: "\u001b[2J100.64.0.9", state: { x: 1 }, taints: "no", rxBytes: -1 };
    for (const f of [formatPeers, formatSessions, formatStatus, formatCounters, formatRoutes, formatEvent]) {
      for (const v of [null, undefined, 42, "x", [null, 1], [evil], { peers: [evil], dataplane: "x" }]) {
        const out = f(v);
        expect(typeof out).toBe("string");
        expect(out).not.toContain("\u001b");
      }
    }
  });
});
