/**
 * `veilnet proxy [LOCAL=HOST:PORT ...] [--expose PORT=HOST:PORT,...]`: runs an embedded node (no
 * TUN, no root) and forwards TCP ports over the mesh. Enrolment flags as for `--role conflux`.
 */
import { defineCommand } from "citty";
import { UsageError } from "../../../errors.ts";
import { Conflux } from "./conflux.ts";
import { ProxySpecError } from "./errors.ts";
import { parseProxySpec, startProxy } from "./proxy.ts";

export const proxyCommand = defineCommand({
  meta: {
    name: "proxy",
    description:
      "run an embedded node (no TUN, no root) and forward TCP: LOCAL=HOST:PORT forwards a local port to an " +
      "overlay address; --expose PORT=HOST:PORT serves a local service on this node's overlay address",
  },
  args: {
    state: { type: "string", description: "state directory (must be writable by this user)", required: true },
    guardian: { type: "string", description: "Guardian enrolment URL (first start)" },
    token: { type: "string", description: "enrolment token (first start; never logged)" },
    realm: { type: "string", description: "realm the token enrols into (first start)" },
    guardianCa: { type: "string", description: "PEM file of the CA that signed Guardian's TLS certificate" },
    listen: {
      type: "string",
      description: "UDP port for Anchor traffic (default: derived from the node id)",
    },
    advertise: { type: "string", description: "extra comma-separated underlay addresses to offer peers" },
    mtu: { type: "string", description: "overlay MTU (default 1420)" },
    expose: { type: "string", description: "comma-separated PORT=HOST:PORT: overlay port → local service" },
    bind: { type: "string", description: "local address for forwarded ports (default 127.0.0.1)" },
  },
  async run({ args }) {
    const positional = (args._ ?? []).map(String);
    let forward: ReturnType<typeof parseProxySpec>[];
    let expose: ReturnType<typeof parseProxySpec>[];
    try {
      forward = positional.map(parseProxySpec);
      expose = (args.expose ? String(args.expose).split(",") : [])
        .filter((s) => s.trim())
        .map(parseProxySpec);
    } catch (e) {
      if (e instanceof ProxySpecError) throw new UsageError(e.code, `proxy: ${e.message}`);
      throw e;
    }
    if (forward.length === 0 && expose.length === 0) {
      throw new UsageError(
        "PROXY_NOTHING",
        "proxy: give at least one LOCAL=HOST:PORT or --expose PORT=HOST:PORT",
      );
    }
    const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
    const node = await Conflux.start({
      stateDir: String(args.state),
      guardian: args.guardian,
      token: args.token,
      realm: args.realm,
      guardianCa: args.guardianCa,
      listenPort: args.listen === undefined ? undefined : Number(args.listen),
      advertise: args.advertise ? String(args.advertise).split(",") : undefined,
      mtu: args.mtu === undefined ? undefined : Number(args.mtu),
      log,
    });
    let proxy: Awaited<ReturnType<typeof startProxy>>;
    try {
      proxy = await startProxy(node, { forward, expose, bind: args.bind, log });
    } catch (e) {
      await node.stop("proxy failed to start");
      throw e;
    }
    log(`embedded node ${node.nodeId.slice(0, 16)} at ${node.address.ipv4} ready`);
    const stop = (why: string) => {
      void proxy.close().finally(() => node.stop(why));
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    await node.stopped;
    return 0;
  },
});
