/**
 * Five in-process nodes over real UDP sockets on 127.0.0.1: S - R1 - R2 - R3 - D in a line. Link
 * sessions come from the real Anchor handshake (run in process); the path is built over UDP with
 * CREATE/EXTEND cells and the end-to-end session is another real handshake carried in HANDSHAKE cells.
 */
import { afterAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { connect, hex, type MeshNode, makeNodes, T0, type Wire } from "./mesh.fixture.ts";

type Sock = Bun.udp.Socket<"buffer">;

class UdpWire implements Wire {
  readonly sockets = new Map<MeshNode, Sock>();
  readonly errors: unknown[] = [];
  sent = 0;
  transmit(from: MeshNode, to: MeshNode, bytes: Uint8Array): void {
    const s = this.sockets.get(from);
    const d = this.sockets.get(to);
    if (s && d) {
      s.send(bytes, d.port, "127.0.0.1");
      this.sent++;
    }
  }
}

const wire = new UdpWire();
const { nodes } = makeNodes(["S", "R1", "R2", "R3", "D"], wire);
const [S, R1, R2, R3, D] = nodes as [MeshNode, MeshNode, MeshNode, MeshNode, MeshNode];
const started = performance.now();
const clock = () => T0 + (performance.now() - started);

afterAll(() => {
  for (const s of wire.sockets.values()) s.close();
});

test("a 5-node path over loopback UDP carries data end to end; relays see only path ids and neighbours", async () => {
  for (const n of nodes) {
    const sock = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data: (_s, buf) => n.receive(buf, clock()),
        error: (_s, err) => {
          wire.errors.push(err);
        },
      },
    });
    wire.sockets.set(n, sock);
  }
  connect(S, R1);
  connect(R1, R2);
  connect(R2, R3);
  connect(R3, D);

  const back: Uint8Array[] = [];
  const path = S.service.build(
    [R1.hop(), R2.hop(), R3.hop(), D.hop()],
    { onData: (_p, d) => back.push(d.slice()) },
    clock(),
  );
  const until = async (cond: () => boolean, ms: number) => {
    const end = performance.now() + ms;
    while (!cond() && performance.now() < end) {
      await Bun.sleep(5);
      for (const n of nodes) n.service.poll(clock());
    }
  };
  await until(() => path.state === "ready", 10_000);
  expect(path.state).toBe("ready");

  const marker = randomBytes(24);
  const N = 200;
  for (let i = 0; i < N; i++) {
    const p = new Uint8Array(28 + 1000);
    p.set(marker);
    new DataView(p.buffer).setUint32(24, i, true);
    expect(path.send(p, clock())).toBe(true);
    if (i % 20 === 19) await Bun.sleep(1);
  }
  await until(() => D.delivered.length >= N, 5_000);
  expect(D.delivered.length).toBe(N);
  const seqs = new Set(
    D.delivered.map((x) => new DataView(x.data.buffer, x.data.byteOffset).getUint32(24, true)),
  );
  expect(seqs.size).toBe(N);
  expect(D.delivered.every((x) => Buffer.from(x.data.subarray(0, 24)).equals(marker))).toBe(true);
  expect(hex(D.delivered[0]!.from)).toBe(hex(S.nodeId));

  const reply = D.delivered[0]!.path;
  for (let i = 0; i < 20; i++) expect(reply.send(Buffer.from(`reply ${i}`), clock())).toBe(true);
  await until(() => back.length >= 20, 5_000);
  expect(back.length).toBe(20);

  // What the relays saw: cells with per-hop path ids, never the plaintext, never a non-neighbour's id
  const neighbours = new Map([
    [R1, [S, R2]],
    [R2, [R1, R3]],
    [R3, [R2, D]],
  ]);
  const ids = new Set<string>();
  for (const [relay, near] of neighbours) {
    const seen = Buffer.concat(relay.taps);
    expect(relay.taps.length).toBeGreaterThan(N);
    expect(seen.indexOf(marker)).toBe(-1);
    expect(seen.indexOf(Buffer.from("reply 1"))).toBe(-1);
    for (const other of nodes) {
      if (other === relay || near.includes(other)) continue;
      expect(seen.indexOf(other.nodeId)).toBe(-1);
      expect(seen.indexOf(other.identity.publicKeys.ed25519)).toBe(-1);
    }
    // its only state: one entry joining the two neighbour links, with ids local to each link
    const entries = [...relay.service.sw.table.entries()];
    expect(entries.length).toBe(1);
    const e = entries[0]!;
    expect(relay.links.get(e.upLink)!.peer).toBe(near[0]!);
    expect(relay.links.get(e.downLink)!.peer).toBe(near[1]!);
    ids.add(`${e.upPid}`).add(`${e.downPid}`);
  }
  expect(ids.size).toBe(4); // four links, four different random path ids: no global header
  expect(wire.errors).toEqual([]);

  path.close(clock());
  await until(() => nodes.every((n) => n.service.sw.table.size === 0), 3_000);
  expect(nodes.map((n) => n.service.sw.table.size)).toEqual([0, 0, 0, 0, 0]);
  expect(nodes.flatMap((n) => n.linkDrops)).toEqual([]);
}, 30_000);
