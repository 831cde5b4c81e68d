/**
 * `veilnet proxy`: TCP port forwarding through an embedded node.
 *
 *   forward  LOCAL=HOST:PORT          a local TCP port (on --bind, default 127.0.0.1) whose
 *                                     connections become streams to HOST:PORT on the overlay
 *   expose   --expose PORT=HOST:PORT  streams to PORT on this node's overlay address become
 *                                     connections to the local service HOST:PORT
 *
 * Each side is hostile input: specs are parsed strictly, overlay hosts must be IPv4 addresses.
 */
import { createConnection, createServer, type Server } from "node:net";
import { parseIPv4 } from "../../../ffi/inet.ts";
import type { Conflux } from "./conflux.ts";
import { ProxySpecError } from "./errors.ts";
import { pipeSocket } from "./stream.ts";

export interface ProxySpec {
  readonly port: number;
  readonly host: string;
  readonly hostPort: number;
}

/** Parses `PORT=HOST:PORT`. */
export function parseProxySpec(text: string): ProxySpec {
  const m = /^(\d{1,5})=([^:=\s]+):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new ProxySpecError("PROXY_BAD_SPEC", `'${text}' is not PORT=HOST:PORT`);
  const port = Number(m[1]);
  const hostPort = Number(m[3]);
  for (const p of [port, hostPort]) {
    if (p < 1 || p > 65535)
      throw new ProxySpecError("PROXY_BAD_PORT", `port ${p} in '${text}' is not 1..65535`);
  }
  return { port, host: m[2]!, hostPort };
}

export interface ProxyHandle {
  readonly forwards: { spec: ProxySpec; port: number }[];
  counters(): { accepted: number; failed: number; active: number };
  close(): Promise<void>;
}

export async function startProxy(
  node: Conflux,
  o: {
    forward: readonly ProxySpec[];
    expose: readonly ProxySpec[];
    bind?: string;
    log?: (l: string) => void;
  },
): Promise<ProxyHandle> {
  const log = o.log ?? (() => {});
  const stats = { accepted: 0, failed: 0, active: 0 };
  const servers: Server[] = [];
  const stops: (() => void)[] = [];
  const forwards: { spec: ProxySpec; port: number }[] = [];
  for (const spec of o.forward) {
    if (!parseIPv4(spec.host))
      throw new ProxySpecError("PROXY_BAD_HOST", `overlay host '${spec.host}' is not an IPv4 address`);
  }
  try {
    for (const spec of o.forward) {
      // Half-open sockets: EOF from the local client must not end the reply still coming back.
      const server = createServer({ allowHalfOpen: true }, (sock) => {
        stats.accepted++;
        stats.active++;
        sock.pause();
        sock.once("close", () => stats.active--);
        sock.on("error", () => {});
        node.connectTcp(spec.host, spec.hostPort).then(
          (conn) =>
            pipeSocket(sock, conn, (e) => {
              stats.failed++;
              log(
                `proxy ${spec.port} → ${spec.host}:${spec.hostPort}: ${e.code} ${e.message} (${JSON.stringify(conn.sender.stats)})`,
              );
            }),
          (e) => {
            stats.failed++;
            log(`proxy ${spec.port} → ${spec.host}:${spec.hostPort}: ${String(e)}`);
            sock.destroy();
          },
        );
      });
      await new Promise<void>((res, rej) => {
        server.once("error", rej);
        server.listen(spec.port, o.bind ?? "127.0.0.1", () => res());
      });
      servers.push(server);
      const addr = server.address();
      forwards.push({ spec, port: typeof addr === "object" && addr ? addr.port : spec.port });
      log(`forwarding ${o.bind ?? "127.0.0.1"}:${spec.port} → ${spec.host}:${spec.hostPort} over the mesh`);
    }
    for (const spec of o.expose) {
      const l = node.listenTcp(spec.port, (conn) => {
        stats.accepted++;
        stats.active++;
        const sock = createConnection({ host: spec.host, port: spec.hostPort, allowHalfOpen: true });
        sock.once("close", () => stats.active--);
        sock.once("connect", () =>
          pipeSocket(sock, conn, (e) => {
            stats.failed++;
            log(`expose ${spec.port} → ${spec.host}:${spec.hostPort}: ${e.code} ${e.message}`);
          }),
        );
        sock.once("error", (e) => {
          if (!sock.connecting) return;
          stats.failed++;
          log(`expose ${spec.port} → ${spec.host}:${spec.hostPort}: ${String(e)}`);
          conn.destroy("local service refused");
        });
      });
      stops.push(() => l.close());
      log(`exposing ${node.address.ipv4}:${spec.port} → ${spec.host}:${spec.hostPort}`);
    }
  } catch (e) {
    for (const s of servers) s.close();
    for (const s of stops) s();
    throw e;
  }
  return {
    forwards,
    counters: () => ({ ...stats }),
    close: async () => {
      for (const s of stops) s();
      await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
    },
  };
}
