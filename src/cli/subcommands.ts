import type { CommandDef } from "citty";

/**
 * Subcommands beside the roles. Each entry loads its module on demand; add one line per command.
 * The description is shown by `veilnet --help` without loading the module.
 */
export const SUBCOMMANDS: Record<string, { description: string; load: () => Promise<CommandDef> }> = {
  version: {
    description: "print the version and build facts",
    load: async () => (await import("./version-command.ts")).versionCommand as CommandDef,
  },
  admin: {
    description: "realms, enrolment tokens and signed admin commands to nodes (on the Guardian host)",
    load: async () => (await import("../roles/guardian/admin/command.ts")).adminCommand as CommandDef,
  },
  status: {
    description: "the local node's state: addresses, peers, sessions, counters",
    load: async () =>
      (await import("./status-command.ts")).localQueryCommand("status", "local node state") as CommandDef,
  },
  peers: {
    description: "the local node's peers: addresses, state, endpoint, last handshake, traffic",
    load: async () =>
      (await import("./status-command.ts")).localQueryCommand("peers", "peers and sessions") as CommandDef,
  },
  sessions: {
    description: "the local node's Anchor sessions: indices, role, age, rekey due, send counter, suite",
    load: async () =>
      (await import("./status-command.ts")).localQueryCommand("sessions", "Anchor sessions") as CommandDef,
  },
  events: {
    description: "the local node's recent events (sessions, peers, paths, admin); --follow streams them",
    load: async () => (await import("./status-command.ts")).eventsCommand as CommandDef,
  },
  metrics: {
    description: "the local node's counters and gauges in Prometheus text format",
    load: async () => (await import("./status-command.ts")).metricsCommand as CommandDef,
  },
  routes: {
    description: "the local node's multi-hop routes: chosen path, standby, candidates, estimates, ages",
    load: async () =>
      (await import("./status-command.ts")).localQueryCommand("routes", "multi-hop routes") as CommandDef,
  },
  proxy: {
    description:
      "embedded node (no TUN, no root) forwarding TCP ports over the mesh: LOCAL=HOST:PORT, --expose",
    load: async () => (await import("../roles/conflux/embedded/proxy-command.ts")).proxyCommand as CommandDef,
  },
  counters: {
    description: "the local node's data-plane and handshake counters (drops by reason)",
    load: async () =>
      (await import("./status-command.ts")).localQueryCommand(
        "counters",
        "drop and traffic counters",
      ) as CommandDef,
  },
};
