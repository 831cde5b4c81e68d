import { defineCommand } from "citty";
import { CONFLUX_DEFAULTS, loadConfluxConfig } from "./config.ts";

export const confluxCommand = defineCommand({
  meta: {
    name: "conflux",
    description:
      "the mesh node. First start: --guardian URL --token T --realm R --guardian-ca FILE (enrols, keeps keys " +
      "in --state, 0600); later starts need only --state. Stops cleanly on SIGTERM/SIGINT.",
  },
  args: {
    config: { type: "string", description: "JSON config file (keys as the long flags); flags win" },
    state: { type: "string", description: `state directory (default ${CONFLUX_DEFAULTS.stateDir})` },
    guardian: {
      type: "string",
      description: "Guardian enrolment URL, e.g. https://198.18.0.1:7443 (first start)",
    },
    token: { type: "string", description: "enrolment token (first start; never logged)" },
    realm: { type: "string", description: "realm the token enrols into (first start)" },
    guardianCa: { type: "string", description: "PEM file of the CA that signed Guardian's TLS certificate" },
    listen: {
      type: "string",
      description: "UDP port for Anchor traffic (default: 40000-59999, derived from the node id)",
    },
    tun: { type: "string", description: `TUN device name (default ${CONFLUX_DEFAULTS.tunName})` },
    mtu: {
      type: "string",
      description: "overlay MTU (default: the underlay link's MTU − 80, e.g. 1500 → 1420)",
    },
    advertise: { type: "string", description: "extra comma-separated underlay addresses to offer peers" },
    embedded: {
      type: "boolean",
      description:
        "no TUN, no root: in-process packet plane (use the library or `veilnet proxy` for traffic)",
    },
  },
  async run({ args }) {
    const config = loadConfluxConfig(args);
    const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
    const { ConfluxNode } = await import("./node.ts");
    const node = await ConfluxNode.start(config, log);
    const onSignal = (sig: string) => void node.stop(sig);
    process.once("SIGTERM", () => onSignal("SIGTERM"));
    process.once("SIGINT", () => onSignal("SIGINT"));
    log(`node ${node.nodeIdHex.slice(0, 16)} running; control socket ${node.state.path("veilnet.sock")}`);
    await node.stopped;
    // Everything the node started is stopped; a handle some library leaves behind (a blocking read
    // on a closed fd, say) must not keep a stopped node's process alive.
    log("stopped");
    process.exit(0);
  },
});
