/**
 * Test fixture: two embedded planes on loopback with a fixed-key session between them, optionally
 * through a lossy UDP relay (each datagram dropped with probability `loss`, both directions).
 */
import { EmbeddedPlane } from "./plane.ts";

export interface PlanePair {
  a: EmbeddedPlane;
  b: EmbeddedPlane;
  readonly ipA: string;
  readonly ipB: string;
  relayDropped: () => number;
  close(): Promise<void>;
}

const key = (fill: number) => new Uint8Array(32).fill(fill);

export async function planePair(o: { loss?: number; mtu?: number } = {}): Promise<PlanePair> {
  const a = await EmbeddedPlane.start({ udpPort: 0, bindAddress: "127.0.0.1", mtu: o.mtu });
  const b = await EmbeddedPlane.start({ udpPort: 0, bindAddress: "127.0.0.1", mtu: o.mtu });
  let dropped = 0;
  let relay: { port: number; close(): void } | undefined;
  let toA = { ip: "127.0.0.1", port: a.port };
  let toB = { ip: "127.0.0.1", port: b.port };
  if (o.loss) {
    const loss = o.loss;
    const r = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(s, buf, port) {
          if (Math.random() < loss) {
            dropped++;
            return;
          }
          s.send(buf, port === a.port ? b.port : a.port, "127.0.0.1");
        },
      },
    });
    relay = r;
    toA = { ip: "127.0.0.1", port: r.port };
    toB = { ip: "127.0.0.1", port: r.port };
  }
  const ipA = "100.64.0.1";
  const ipB = "100.64.0.2";
  a.setPeer(0, {
    endpoint: toB,
    sendKey: key(1),
    sendReceiverIndex: 20,
    recvKey: key(2),
    localIndex: 10,
    allowedSrcV4: `${ipB}/32`,
  });
  b.setPeer(0, {
    endpoint: toA,
    sendKey: key(2),
    sendReceiverIndex: 10,
    recvKey: key(1),
    localIndex: 20,
    allowedSrcV4: `${ipA}/32`,
  });
  a.route(`${ipB}/32`, 0);
  b.route(`${ipA}/32`, 0);
  return {
    a,
    b,
    ipA,
    ipB,
    relayDropped: () => dropped,
    close: async () => {
      relay?.close();
      await a.stop();
      await b.stop();
    },
  };
}
