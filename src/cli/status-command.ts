/**
 * The local commands: `veilnet status|peers|sessions|routes|counters|events|metrics` ask the node
 * on this host through its control socket (root-only) and print aligned tables, or `--json` for
 * scripts. When the node is not running or the socket is not ours, one line says why (exit 1).
 */
import { join } from "node:path";
import { defineCommand } from "citty";
import { followLocal, requestLocal } from "../control/local-control.ts";
import { UsageError } from "../errors.ts";
import { CONFLUX_DEFAULTS, LOCAL_CONTROL_SOCKET } from "../roles/conflux/config.ts";
import {
  formatCounters,
  formatEvent,
  formatPeers,
  formatRoutes,
  formatSessions,
  formatStatus,
} from "./local-format.ts";

const stateArg = {
  type: "string",
  description: `the node's state directory (default ${CONFLUX_DEFAULTS.stateDir})`,
} as const;

const socketOf = (state: string | undefined) =>
  join(state ?? CONFLUX_DEFAULTS.stateDir, LOCAL_CONTROL_SOCKET);

const FORMATS: Record<string, (result: unknown) => string> = {
  status: formatStatus,
  peers: formatPeers,
  sessions: formatSessions,
  routes: formatRoutes,
  counters: formatCounters,
};

/** `veilnet status|peers|sessions|routes|counters`. */
export function localQueryCommand(name: string, description: string) {
  const format = FORMATS[name];
  if (!format) throw new Error(`no format for '${name}'`);
  return defineCommand({
    meta: { name, description },
    args: {
      state: stateArg,
      json: { type: "boolean", description: "print JSON (one line) for scripts" },
    },
    async run({ args }) {
      const result = await requestLocal(socketOf(args.state), name);
      console.log(args.json ? JSON.stringify(result) : format(result));
    },
  });
}

/** `veilnet metrics`: Prometheus text exposition format 0.0.4, as the node renders it. */
export const metricsCommand = defineCommand({
  meta: { name: "metrics", description: "the node's counters and gauges as Prometheus text" },
  args: { state: stateArg },
  async run({ args }) {
    const text = await requestLocal(socketOf(args.state), "metrics");
    process.stdout.write(typeof text === "string" ? text : "");
  },
});

/** Stored events shown before `--follow` streams the new ones, unless --limit says otherwise. */
export const FOLLOW_REPLAY = 10;

/** `veilnet events [--follow] [--limit N] [--json]`. */
export const eventsCommand = defineCommand({
  meta: { name: "events", description: "the node's recent events; --follow streams new ones" },
  args: {
    state: stateArg,
    follow: { type: "boolean", alias: "f", description: "stream new events until interrupted" },
    limit: { type: "string", description: "show at most N stored events (with --follow: first; default 10)" },
    json: { type: "boolean", description: "one JSON event per line" },
  },
  async run({ args }) {
    const limit = parseLimit(args.limit);
    const print = (e: unknown) => console.log(args.json ? JSON.stringify(e) : formatEvent(e));
    const path = socketOf(args.state);
    if (!args.follow) {
      const events = await requestLocal(path, "events", limit === undefined ? {} : { limit });
      for (const e of Array.isArray(events) ? events : []) print(e);
      return;
    }
    const follow = followLocal(path, "events", { replay: limit ?? FOLLOW_REPLAY }, print);
    const stop = () => follow.close();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      await follow.done;
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
  },
});

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 100_000)
    throw new UsageError("USAGE_BAD_LIMIT", `--limit must be an integer 0-100000, not '${raw}'`);
  return n;
}
