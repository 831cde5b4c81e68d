import { describe, expect, test } from "bun:test";
import { type Certificate, issueCertificate } from "../../anchor/certificate.ts";
import type { Established } from "../../anchor/handshake.ts";
import { Identity } from "../../anchor/identity.ts";
import { trustedIssuers } from "../../anchor/issuer.ts";
import type { Endpoint } from "../../ffi/udp.ts";
import { type DatagramSink, endpointKey, HandshakeDriver, PUNCH_RESEND_MS } from "./handshake-driver.ts";

const realmKey = Identity.generate();
const trust = { realmKeys: trustedIssuers(realmKey), realm: "test-realm" };

function node(ipv4: string): { identity: Identity; certificate: Certificate } {
  const identity = Identity.generate();
  const now = Math.floor(Date.now() / 1000);
  const certificate = issueCertificate(realmKey, {
    publicKeys: identity.publicKeys,
    realm: "test-realm",
    ipv4,
    notBefore: now - 60,
    notAfter: now + 3600,
  });
  return { identity, certificate };
}

/** An in-memory network; `blockedUntil` models a NAT that drops inbound datagrams until it has punched. */
class Net {
  readonly queue: { d: Uint8Array; from: Endpoint; to: Endpoint }[] = [];
  readonly drivers = new Map<string, HandshakeDriver>();
  blockedUntil = new Map<string, number>();
  sinkFor(self: Endpoint): DatagramSink {
    return { send: (d, to) => this.queue.push({ d: Uint8Array.from(d), from: self, to }) };
  }
  deliver(now: number): number {
    let n = 0;
    for (const m of this.queue.splice(0)) {
      if ((this.blockedUntil.get(endpointKey(m.to)) ?? 0) > now) continue;
      this.drivers.get(endpointKey(m.to))?.receive(m.d, m.from, now);
      n++;
    }
    return n;
  }
}

describe("handshake driver", () => {
  test("dial → both sides established with matching keys, even when the first tries are dropped", () => {
    const net = new Net();
    const a = node("100.64.0.1");
    const b = node("100.64.0.2");
    const epA = { ip: "198.18.0.1", port: 7000 };
    const epB = { ip: "198.18.0.2", port: 7000 };
    const got: { side: string; e: Established; asInitiator: boolean }[] = [];
    const events = (side: string) => ({
      established: (e: Established, _ep: Endpoint, asInitiator: boolean) =>
        got.push({ side, e, asInitiator }),
      failed: (_id: string, err: unknown) => {
        throw new Error(`unexpected failure ${String(err)}`);
      },
    });
    let now = Date.now();
    const da = new HandshakeDriver({ ...a, trust }, net.sinkFor(epA), events("a"), now);
    const db = new HandshakeDriver({ ...b, trust }, net.sinkFor(epB), events("b"), now);
    net.drivers.set(endpointKey(epA), da);
    net.drivers.set(endpointKey(epB), db);
    net.blockedUntil.set(endpointKey(epB), now + 2 * PUNCH_RESEND_MS + 1); // B's NAT opens late
    da.dial(b.certificate, "b", [epB, { ip: "198.18.9.9", port: 1 }], now);
    for (let i = 0; i < 40 && got.length < 2; i++) {
      now += 100;
      da.tick(now);
      db.tick(now);
      net.deliver(now);
      net.deliver(now);
    }
    expect(got.map((g) => g.side).sort()).toEqual(["a", "b"]);
    const ia = got.find((g) => g.side === "a")!;
    const rb = got.find((g) => g.side === "b")!;
    expect(ia.asInitiator).toBe(true);
    expect(ia.e.keys.sendKey).toEqual(rb.e.keys.recvKey);
    expect(ia.e.keys.recvKey).toEqual(rb.e.keys.sendKey);
    expect(ia.e.keys.remoteIndex).toBe(rb.e.keys.localIndex);
    expect(ia.e.peer.nodeId).toEqual(b.identity.nodeId);
    expect(rb.e.peer.nodeId).toEqual(a.identity.nodeId);
    expect(da.isDialling("b")).toBe(false);
  });

  test("garbage and unsolicited responses are counted, never thrown", () => {
    const net = new Net();
    const a = node("100.64.0.3");
    const da = new HandshakeDriver(
      { ...a, trust },
      net.sinkFor({ ip: "198.18.0.3", port: 1 }),
      { established: () => {}, failed: () => {} },
      Date.now(),
    );
    for (const type of [0, 1, 2, 3, 4, 5, 255]) {
      for (const len of [0, 1, 5, 40, 1200]) {
        const d = new Uint8Array(len).map(() => Math.floor(Math.random() * 256));
        if (len > 0) d[0] = type;
        da.receive(d, { ip: "198.18.0.9", port: 9 }, Date.now());
      }
    }
    expect(da.counters.dropped + da.counters.rejected).toBeGreaterThan(0);
    expect(da.counters.established).toBe(0);
  });

  test("a flood of initiations costs no KEM work once over the load threshold", () => {
    const net = new Net();
    const a = node("100.64.0.4");
    const b = node("100.64.0.5");
    const epB = { ip: "198.18.0.5", port: 7000 };
    const now = Date.now();
    const db = new HandshakeDriver(
      { ...b, trust },
      net.sinkFor(epB),
      { established: () => {}, failed: () => {} },
      now,
      16,
    );
    // Capture one real initiation (8 fragments) and replay it from many sources: a flood.
    const da = new HandshakeDriver(
      { ...a, trust },
      net.sinkFor({ ip: "198.18.0.4", port: 7000 }),
      { established: () => {}, failed: () => {} },
      now,
    );
    da.dial(b.certificate, "b", [epB], now);
    const initiation = net.queue.splice(0).map((m) => m.d);
    for (let i = 0; i < 200; i++) {
      for (const d of initiation) db.receive(d, { ip: "198.18.1.1", port: 1000 + i }, now);
    }
    // Only the first 16 fragments (two initiations) were processed before cookies were demanded.
    expect(db.responderStats.decapsulations).toBeLessThanOrEqual(2);
    expect(db.counters.underLoad).toBeGreaterThan(1500);
    expect(db.responderStats.cookieReplies).toBeGreaterThan(150);
  });
});
