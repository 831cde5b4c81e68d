import { afterEach, describe, expect, test } from "bun:test";
import { chooseAead } from "../../../anchor/aead/choose.ts";
import { CellLinks } from "../multihop/cell-links.ts";
import { type PlanePair, planePair } from "./pair.fixture.ts";
import { EmbeddedPlane } from "./plane.ts";

/** A minimal IPv4 packet (UDP protocol number, no payload checks needed by the plane). */
function ipv4(src: number[], dst: number[], len = 60): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[9] = 17;
  p.set(src, 12);
  p.set(dst, 16);
  for (let i = 20; i < len; i++) p[i] = i & 0xff;
  return p;
}

const A = [100, 64, 0, 1];
const B = [100, 64, 0, 2];

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(5);
  }
}

describe("embedded packet plane", () => {
  let p: PlanePair | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  test("delivers a packet to the peer's handlers, exactly its IP length", async () => {
    p = await planePair();
    const got: Uint8Array[] = [];
    p.b.onPacket((pkt) => got.push(pkt.slice()));
    const pkt = ipv4(A, B);
    expect(p.a.send(pkt)).toBe(true);
    await until(() => got.length === 1);
    expect(got[0]).toEqual(pkt);
    expect(p.a.counters().txPackets).toBe(1);
    expect(p.b.counters().rxPackets).toBe(1);
    expect(p.b.peerStats(0).rxAuthenticated).toBe(1);
  });

  test("drops by reason: spoofed source, replay, forged tag, unknown index, no route", async () => {
    p = await planePair();
    const got: Uint8Array[] = [];
    p.b.onPacket((pkt) => got.push(pkt.slice()));
    // Capture a real datagram from A to replay it.
    const sent: Uint8Array[] = [];
    const orig = p.a.socket.send;
    (p.a.socket as { send: typeof orig }).send = (d, to) => {
      sent.push(d.slice());
      return orig(d, to);
    };
    p.a.send(ipv4([100, 64, 0, 9], B)); // source not certified for A
    p.a.send(ipv4(A, B));
    await until(() => got.length === 1 && p!.b.counters().dropRxSpoofed === 1);
    const replay = sent[1]!.slice();
    p.b.receive(replay, "127.0.0.1", 1);
    expect(p.b.counters().dropRxReplay).toBe(1);
    const forged = sent[1]!.slice();
    forged[40]! ^= 1;
    p.b.receive(forged, "127.0.0.1", 1);
    expect(p.b.counters().dropRxBadTag).toBe(1);
    const unknown = sent[1]!.slice();
    unknown[4] = 99;
    p.b.receive(unknown, "127.0.0.1", 1);
    expect(p.b.counters().dropRxUnknownIndex).toBe(1);
    p.b.receive(new Uint8Array(10).fill(4), "127.0.0.1", 1);
    expect(p.b.counters().dropRxShort).toBe(1);
    expect(p.a.send(ipv4(A, [100, 64, 0, 77]))).toBe(false);
    expect(p.a.counters().dropTxNoRoute).toBe(1);
    expect(got.length).toBe(1);
  });

  test("rekey: packets sealed under the previous key still open; a reused send key is refused", async () => {
    p = await planePair();
    const got: number[] = [];
    p.b.onPacket((pkt) => got.push(pkt.length));
    // B moves to new keys first; A still sends with the old ones for a moment.
    const k = (n: number) => new Uint8Array(32).fill(n);
    p.b.rekey(0, { sendKey: k(4), sendReceiverIndex: 11, recvKey: k(3), localIndex: 21 });
    p.a.send(ipv4(A, B, 80));
    await until(() => got.length === 1);
    p.a.rekey(0, { sendKey: k(3), sendReceiverIndex: 21, recvKey: k(4), localIndex: 11 });
    p.a.send(ipv4(A, B, 90));
    await until(() => got.length === 2);
    expect(got).toEqual([80, 90]);
    expect(p.b.peerStats(0).lastRxKey).toBe("current");
    expect(() =>
      p!.a.rekey(0, { sendKey: k(3), sendReceiverIndex: 21, recvKey: k(8), localIndex: 12 }),
    ).toThrow(/nonce reuse/);
  });

  test("answers a TUN-mode neighbour's link probe (real CellLinks on the other side)", async () => {
    const plane = await EmbeddedPlane.start({ udpPort: 0, bindAddress: "127.0.0.1" });
    const echoes: bigint[] = [];
    let links: CellLinks | undefined;
    const sock: { port: number; send(d: Uint8Array, port: number, ip: string): boolean; close(): void } =
      await Bun.udpSocket({
        hostname: "127.0.0.1",
        port: 0,
        socket: { data: (_s, buf): void => links?.receive(new Uint8Array(buf), Date.now()) },
      });
    links = new CellLinks({
      selfNodeId: new Uint8Array(32).fill(1),
      backend: chooseAead(),
      send: (d, to): boolean => sock.send(d, to.port, to.ip),
      onCell: () => {},
      onProbeEcho: (_id, token) => echoes.push(token),
    });
    try {
      const k = (n: number) => new Uint8Array(32).fill(n);
      plane.setPeer(0, {
        endpoint: { ip: "127.0.0.1", port: sock.port },
        sendKey: k(5),
        sendReceiverIndex: 7,
        recvKey: k(6),
        localIndex: 8,
        allowedSrcV4: "100.64.0.3/32",
      });
      links.up(
        "peer",
        new Uint8Array(32).fill(2),
        {
          sendKey: k(6),
          recvKey: k(5),
          localIndex: 7,
          remoteIndex: 8,
          isInitiator: true,
          peerNodeId: new Uint8Array(32).fill(2),
          establishedAt: Date.now(),
        },
        { ip: "127.0.0.1", port: plane.port },
        Date.now(),
      );
      links.probe("peer", 0x1234n, Date.now());
      await until(() => echoes.includes(0x1234n));
      expect(plane.counters().linkProbesAnswered).toBeGreaterThanOrEqual(1);
    } finally {
      sock.close();
      await plane.stop();
    }
  });
});
