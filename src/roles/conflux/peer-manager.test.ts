import { describe, expect, test } from "bun:test";
import { type Certificate, issueCertificate } from "../../anchor/certificate.ts";
import { Identity } from "../../anchor/identity.ts";
import { trustedIssuers } from "../../anchor/issuer.ts";
import type { Endpoint } from "../../ffi/udp.ts";
import type { PeerConfig, SessionKeys } from "./dataplane/dataplane.ts";
import { endpointKey, HandshakeDriver } from "./handshake-driver.ts";
import type { PacketIO } from "./packet-io.ts";
import { DEAD_AFTER_MS, PeerManager } from "./peer-manager.ts";

const realmKey = Identity.generate();
const trust = { realmKeys: trustedIssuers(realmKey), realm: "pm-realm" };

/** Records what the manager installs; carries control datagrams through a shared queue. */
class FakeIO implements PacketIO {
  readonly peers = new Map<number, PeerConfig>();
  readonly routes = new Map<string, number>();
  readonly keepalives: number[] = [];
  rx = new Map<number, number>();
  handler: ((d: Uint8Array, from: Endpoint) => void) | undefined;
  constructor(
    readonly self: Endpoint,
    readonly wire: { d: Uint8Array; from: Endpoint; to: Endpoint }[],
  ) {}
  get port() {
    return this.self.port;
  }
  onControl(h: (d: Uint8Array, from: Endpoint) => void) {
    this.handler = h;
  }
  sendControl(d: Uint8Array, to: Endpoint) {
    this.wire.push({ d: Uint8Array.from(d), from: this.self, to });
    return true;
  }
  setPeer(slot: number, cfg: PeerConfig) {
    this.peers.set(slot, cfg);
  }
  rekey(slot: number, keys: SessionKeys) {
    this.peers.set(slot, { ...this.peers.get(slot)!, ...keys });
  }
  updateEndpoint(slot: number, endpoint: Endpoint) {
    this.peers.set(slot, { ...this.peers.get(slot)!, endpoint });
  }
  removePeer(slot: number) {
    this.peers.delete(slot);
    for (const [p, s] of this.routes) if (s === slot) this.routes.delete(p);
  }
  route(prefix: string, slot: number) {
    this.routes.set(prefix, slot);
  }
  unroute(prefix: string) {
    return this.routes.delete(prefix);
  }
  sendKeepalive(slot: number) {
    this.keepalives.push(slot);
  }
  peerStats(slot: number) {
    return {
      txPackets: 0,
      txBytes: 0,
      txNoKey: 0,
      rxPackets: this.rx.get(slot) ?? 0,
      rxBytes: 0,
      rxAuthenticated: this.rx.get(slot) ?? 0,
      sendCounter: 0n,
      lastRxKey: "current" as const,
      lastRxEndpoint: null,
      relayPackets: 0,
      relayBytes: 0,
      relayCounter: 0,
    };
  }
  counters() {
    return {};
  }
  async stop() {}
}

type TestNode = ReturnType<typeof makeNode>;

/** Delivers signals and datagrams and ticks both sides until each has a session (or 50 rounds). */
async function run(
  nodes: Map<string, TestNode>,
  byEp: Map<string, TestNode>,
  signals: { from: string; to: string; sig: never }[],
  wire: FakeIO["wire"],
) {
  for (let i = 0; i < 50; i++) {
    await Bun.sleep(1);
    for (const n of nodes.values()) n.manager.tick(Date.now());
    for (const s of signals.splice(0)) nodes.get(s.to)!.manager.onSignal(s.from, s.sig, Date.now());
    for (const m of wire.splice(0)) byEp.get(endpointKey(m.to))?.io.handler?.(m.d, m.from);
    for (const n of nodes.values()) n.driver.tick(Date.now());
    if ([...nodes.values()].every((n) => n.io.peers.size === 1)) break;
  }
}

function pair(a: TestNode, b: TestNode): Map<string, TestNode> {
  return new Map([
    [a.idHex, a],
    [b.idHex, b],
  ]);
}

function byEndpoint(a: TestNode, b: TestNode): Map<string, TestNode> {
  return new Map([
    [endpointKey(a.ep), a],
    [endpointKey(b.ep), b],
  ]);
}

/** The same node after a restart: same identity and certificate, fresh session state. */
function rebuild(old: TestNode, wire: FakeIO["wire"], signals: unknown[], now: number): TestNode {
  return makeNode("", old.ep, wire, signals, now, old.identity, old.certificate);
}

function makeNode(
  ipv4: string,
  ep: Endpoint,
  wire: FakeIO["wire"],
  signals: unknown[],
  now: number,
  existing?: Identity,
  existingCert?: Certificate,
) {
  const identity = existing ?? Identity.generate();
  const s = Math.floor(now / 1000);
  const certificate: Certificate =
    existingCert ??
    issueCertificate(realmKey, {
      publicKeys: identity.publicKeys,
      realm: "pm-realm",
      ipv4,
      notBefore: s - 60,
      notAfter: s + 3600,
    });
  const io = new FakeIO(ep, wire);
  const idHex = Buffer.from(identity.nodeId).toString("hex");
  let manager: PeerManager | undefined;
  const driver = new HandshakeDriver(
    { identity, certificate, trust },
    { send: (d, to) => io.sendControl(d, to) },
    {
      established: (e, from, asInitiator) => manager!.onEstablished(e, from, asInitiator, now),
      failed: (id) => manager!.onDialFailed(id),
    },
    now,
  );
  manager = new PeerManager({
    selfIdHex: idHex,
    trust,
    io,
    driver,
    signaller: {
      signal: async (_peer, peerIdHex, sig) => {
        signals.push({ from: idHex, to: peerIdHex, sig });
      },
    },
    candidates: () => [ep],
  });
  io.onControl((d, from) => driver.receive(d, from, Date.now()));
  return { identity, certificate, io, driver, manager, idHex, ep };
}

describe("peer manager", () => {
  test("presence → offer → answer → dial → sessions installed on both sides, then blocked", async () => {
    const wire: FakeIO["wire"] = [];
    const signals: { from: string; to: string; sig: never }[] = [];
    const now = Date.now();
    const a = makeNode("100.64.0.10", { ip: "198.18.0.10", port: 7000 }, wire, signals, now);
    const b = makeNode("100.64.0.11", { ip: "198.18.0.11", port: 7000 }, wire, signals, now);
    const nodes = new Map([
      [a.idHex, a],
      [b.idHex, b],
    ]);
    const byEp = new Map([
      [endpointKey(a.ep), a],
      [endpointKey(b.ep), b],
    ]);
    a.manager.onPresence(b.certificate.bytes, now);
    b.manager.onPresence(a.certificate.bytes, now);
    expect(signals).toHaveLength(0); // offers leave from tick(), after the presence echo
    await run(nodes, byEp, signals, wire);
    expect(a.io.peers.size).toBe(1);
    expect(b.io.peers.size).toBe(1);
    const pa = [...a.io.peers.values()][0]!;
    const pb = [...b.io.peers.values()][0]!;
    expect(pa.sendKey).toEqual(pb.recvKey);
    expect(pa.allowedSrcV4).toBe("100.64.0.11/32");
    expect(pb.allowedSrcV4).toBe("100.64.0.10/32");
    expect(a.io.routes.get("100.64.0.11/32")).toBe(0);
    const lower = a.idHex < b.idHex ? a : b;
    expect(lower.io.keepalives.length).toBeGreaterThan(0); // the initiator confirms at once
    expect(lower.manager.snapshot(Date.now())[0]).toMatchObject({ state: "up", initiator: true });

    expect(a.manager.block(b.idHex, "revoked")).toBe(true);
    expect(a.io.peers.size).toBe(0);
    expect(a.io.routes.size).toBe(0);
    a.manager.onPresence(b.certificate.bytes, Date.now());
    a.manager.tick(Date.now());
    expect(a.manager.snapshot(Date.now())[0]).toMatchObject({ state: "blocked" });

    // A silent peer is torn down after DEAD_AFTER_MS.
    b.manager.tick(Date.now() + DEAD_AFTER_MS + 1000);
    expect(b.io.peers.size).toBe(0);
  });

  for (const restarter of ["higher", "lower"] as const) {
    test(`a presence under a new epoch (the ${restarter}-id peer restarted) re-establishes the session at once`, async () => {
      const wire: FakeIO["wire"] = [];
      const signals: { from: string; to: string; sig: never }[] = [];
      const now = Date.now();
      const x = makeNode("100.64.0.20", { ip: "198.18.0.20", port: 7000 }, wire, signals, now);
      const y = makeNode("100.64.0.21", { ip: "198.18.0.21", port: 7000 }, wire, signals, now);
      const [lo, hi] = x.idHex < y.idHex ? [x, y] : [y, x];
      const [o, r0] = restarter === "higher" ? [lo, hi] : [hi, lo]; // observer, restarting node
      o.manager.onPresence(r0.certificate.bytes, now, 1);
      r0.manager.onPresence(o.certificate.bytes, now, 9);
      await run(pair(o, r0), byEndpoint(o, r0), signals, wire);
      expect(o.io.peers.size).toBe(1);
      const oldKey = [...o.io.peers.values()][0]!.sendKey;

      // The same presence again (periodic) changes nothing.
      o.manager.onPresence(r0.certificate.bytes, Date.now(), 1);
      expect(o.manager.counters.peerEpochChanges).toBe(0);
      expect(o.io.peers.size).toBe(1);

      // The peer restarts: same identity and certificate, no session keys, a new epoch.
      const r = rebuild(r0, wire, signals, now);
      r.manager.onPresence(o.certificate.bytes, Date.now(), 9);
      o.manager.onPresence(r.certificate.bytes, Date.now(), 2);
      expect(o.manager.counters.peerEpochChanges).toBe(1);
      expect(o.io.peers.size).toBe(0); // torn down at once, not after DEAD_AFTER_MS
      // Whoever offers, the observer re-dials the endpoint that worked: no signalling needed.
      expect(o.manager.counters.redials).toBe(1);
      expect(o.driver.isDialling(r.idHex)).toBe(true);
      signals.length = 0;
      await run(pair(o, r), byEndpoint(o, r), [], wire);
      expect(o.io.peers.size).toBe(1);
      expect(r.io.peers.size).toBe(1);
      const po = [...o.io.peers.values()][0]!;
      expect(po.sendKey).toEqual([...r.io.peers.values()][0]!.recvKey);
      expect(po.sendKey).not.toEqual(oldKey);
    });
  }

  test("a peer whose presence says it is quarantined is torn down and not dialled until its release", async () => {
    const wire: FakeIO["wire"] = [];
    const signals: { from: string; to: string; sig: never }[] = [];
    const now = Date.now();
    const x = makeNode("100.64.0.30", { ip: "198.18.0.30", port: 7000 }, wire, signals, now);
    const q = makeNode("100.64.0.31", { ip: "198.18.0.31", port: 7000 }, wire, signals, now);
    x.manager.onPresence(q.certificate.bytes, now, 1);
    q.manager.onPresence(x.certificate.bytes, now, 5);
    await run(pair(x, q), byEndpoint(x, q), signals, wire);
    expect(x.io.peers.size).toBe(1);

    // Quarantined: q drops its sessions and says so under a new epoch.
    x.manager.onPresence(q.certificate.bytes, Date.now(), 2, true);
    expect(x.io.peers.size).toBe(0);
    expect(x.driver.isDialling(q.idHex)).toBe(false); // no re-dial, unlike a plain epoch change
    expect(x.manager.counters.redials).toBe(0);
    signals.length = 0;
    for (let t = 1; t <= 5; t++) x.manager.tick(Date.now() + t * 5_000);
    x.manager.onPresence(q.certificate.bytes, Date.now(), 2, true); // periodic, still quarantined
    expect(signals).toHaveLength(0); // no offers either
    expect(x.driver.isDialling(q.idHex)).toBe(false);
    expect(x.manager.snapshot(Date.now())[0]).toMatchObject({ state: "quarantined" });

    // Released: a presence without the flag (and a new epoch) brings the session back.
    q.manager.teardownAll("released");
    x.manager.onPresence(q.certificate.bytes, Date.now(), 3);
    q.manager.onPresence(x.certificate.bytes, Date.now(), 5);
    await run(pair(x, q), byEndpoint(x, q), signals, wire);
    expect(x.io.peers.size).toBe(1);
    expect(q.io.peers.size).toBe(1);
    expect(x.manager.snapshot(Date.now())[0]).toMatchObject({ state: "up" });
  });

  test("presence with a certificate from another realm is refused", () => {
    const other = Identity.generate();
    const s = Math.floor(Date.now() / 1000);
    const foreign = issueCertificate(other, {
      publicKeys: Identity.generate().publicKeys,
      realm: "pm-realm",
      ipv4: "100.64.0.99",
      notBefore: s - 10,
      notAfter: s + 100,
    });
    const wire: FakeIO["wire"] = [];
    const a = makeNode("100.64.0.12", { ip: "198.18.0.12", port: 1 }, wire, [], Date.now());
    expect(a.manager.onPresence(foreign.bytes, Date.now())).toBeUndefined();
    expect(a.manager.counters.presenceRejected).toBe(1);
  });

  test("the count of answered presences starts at 0 and restarts with each new epoch only", () => {
    const wire: FakeIO["wire"] = [];
    const now = Date.now();
    const a = makeNode("100.64.0.30", { ip: "198.18.0.30", port: 1 }, wire, [], now);
    const b = makeNode("100.64.0.31", { ip: "198.18.0.31", port: 1 }, wire, [], now);
    const peer = a.manager.onPresence(b.certificate.bytes, now)!; // learnt without an epoch
    expect(peer.presenceAnswers).toBe(0);
    peer.presenceAnswers = 4;
    expect(a.manager.onPresence(b.certificate.bytes, now, 7)!.presenceAnswers).toBe(0); // first epoch
    peer.presenceAnswers = 4;
    expect(a.manager.onPresence(b.certificate.bytes, now, 7)!.presenceAnswers).toBe(4); // the same one
    expect(a.manager.onPresence(b.certificate.bytes, now, 8)!.presenceAnswers).toBe(0); // restarted
  });
});
