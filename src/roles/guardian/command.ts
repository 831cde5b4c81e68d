/**
 * `veilnet --role guardian`: the identity authority.
 *
 *   veilnet --role guardian init --state DIR [--operator NAME] [--api-host 127.0.0.1,localhost] [--trust DIR]
 *   veilnet --role guardian run  --state DIR [--listen 127.0.0.1:7443] [--masters tls://h:4222,…] [--credential-ttl 1h]
 *
 * Realms, tokens and admin commands: `veilnet admin --help` (on the Guardian host).
 */
import { isIP } from "node:net";
import { defineCommand } from "citty";
import { UsageError } from "../../errors.ts";
import { DEFAULT_STATE_DIR } from "./admin/cli-args.ts";
import { initState } from "./authority.ts";
import { DEFAULT_CREDENTIAL_TTL_MS } from "./credentials.ts";
import { startDaemon } from "./daemon.ts";
import { parseDuration, parseList } from "./duration.ts";

export const DEFAULT_LISTEN = "127.0.0.1:7443";

export const guardianCommand = defineCommand({
  meta: {
    name: "guardian",
    description: "the identity authority: enrolment, credentials, realms, admin commands",
  },
  args: {
    action: { type: "positional", description: "init | run", required: true },
    state: { type: "string", description: `state directory (default ${DEFAULT_STATE_DIR})` },
    operator: { type: "string", description: "init: operator name (default veilnet)" },
    apiHost: {
      type: "string",
      description: "init: names/IPs of the HTTPS API (default 127.0.0.1,localhost)",
    },
    trust: { type: "string", description: "init: adopt an existing trust directory (from master --init)" },
    listen: { type: "string", description: `run: HTTPS listen address (default ${DEFAULT_LISTEN})` },
    masters: { type: "string", description: "run: comma-separated NATS URLs of Master (tls://host:port)" },
    credentialTtl: { type: "string", description: "run: lifetime of node credentials (default 1h)" },
  },
  async run({ args }) {
    const state = args.state ?? DEFAULT_STATE_DIR;
    if (args.action === "init") {
      const hosts = parseList(args.apiHost ?? "127.0.0.1,localhost");
      await initState(state, {
        operatorName: args.operator ?? "veilnet",
        apiDnsNames: hosts.filter((h) => isIP(h) === 0),
        apiIpAddresses: hosts.filter((h) => isIP(h) !== 0),
        ...(args.trust ? { adoptTrust: args.trust } : {}),
      });
      console.log(`guardian state created in ${state}`);
      return 0;
    }
    if (args.action === "run") {
      const [hostname, portText] = splitHostPort(args.listen ?? DEFAULT_LISTEN);
      const daemon = await startDaemon({
        state,
        hostname,
        port: Number(portText),
        policy: {
          ttlMs: args.credentialTtl
            ? parseDuration(args.credentialTtl, "--credential-ttl")
            : DEFAULT_CREDENTIAL_TTL_MS,
          masters: parseList(args.masters),
        },
      });
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await daemon.stop();
      return 0;
    }
    throw new UsageError("USAGE_GUARDIAN", `unknown action '${args.action}' (valid: init, run)`);
  },
});

function splitHostPort(listen: string): [string, string] {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535)
    throw new UsageError("USAGE_BAD_LISTEN", `--listen '${listen}' is not HOST:PORT`);
  return [m[1]!, m[2]!];
}
