/**
 * `veilnet admin ACTION …` on the Guardian host. A node command goes to the running Guardian
 * through its admin socket (admin-socket.ts: keys loaded, Master link open); everything else, and
 * every command when no Guardian runs or `--masters` is given, is done here (direct.ts).
 *
 *   realm-create NAME | realms
 *   token-create --realm R [--taints a,b] [--uses N] [--ttl 24h] [--label TEXT] | tokens
 *   nodes [--realm R] | audit [--limit N]
 *   query NODE | taint NODE T | untaint NODE T | quarantine NODE | release NODE
 *   invalidate NODE | revoke NODE [--reason TEXT] | shutdown NODE [--hard]
 */
import { defineCommand } from "citty";
import { isAdminVerb } from "../../../guardian-api/admin-protocol.ts";
import type { AdminOutcome } from "./actions.ts";
import { adminViaGuardian } from "./admin-socket.ts";
import { type AdminCliArgs, adminTimeoutMs, DEFAULT_STATE_DIR, nodeCommandArgs } from "./cli-args.ts";

export const adminCommand = defineCommand({
  meta: { name: "admin", description: "realms, enrolment tokens and signed admin commands (Guardian host)" },
  args: {
    action: {
      type: "positional",
      description:
        "realm-create|realms|token-create|tokens|nodes|audit|query|taint|untaint|quarantine|release|invalidate|revoke|shutdown",
      required: true,
    },
    target: {
      type: "positional",
      description: "realm name or NODE (id, id prefix, or overlay IPv6)",
      required: false,
    },
    value: { type: "positional", description: "the taint for taint/untaint", required: false },
    state: { type: "string", description: `Guardian state directory (default ${DEFAULT_STATE_DIR})` },
    masters: { type: "string", description: "NATS URLs of Master (default: those the Guardian runs with)" },
    realm: { type: "string", description: "token-create / nodes: the realm" },
    taints: { type: "string", description: "token-create: comma-separated taints bound to the token" },
    uses: { type: "string", description: "token-create: how many enrolments it allows (default 1)" },
    ttl: { type: "string", description: "token-create: validity (default 24h)" },
    label: { type: "string", description: "token-create: a note shown in listings" },
    reason: { type: "string", description: "revoke / quarantine: reason recorded in the audit log" },
    hard: { type: "boolean", description: "shutdown: stop at once instead of draining" },
    timeout: { type: "string", description: "how long to wait for the node's answer (default 5s)" },
    limit: { type: "string", description: "audit: number of entries (default 50)" },
    json: { type: "boolean", description: "print JSON" },
  },
  async run({ args }) {
    const cli: AdminCliArgs = { ...args, state: args.state ?? DEFAULT_STATE_DIR };
    let outcome: AdminOutcome | undefined;
    if (isAdminVerb(cli.action) && cli.target && !cli.masters) {
      const request = {
        verb: cli.action,
        target: cli.target,
        args: nodeCommandArgs(cli),
        timeoutMs: adminTimeoutMs(cli),
      };
      outcome = await adminViaGuardian(cli.state, request);
    }
    if (!outcome) {
      const done = await (await import("./direct.ts")).runDirect(cli);
      if (typeof done === "number") return done;
      outcome = done;
    }
    console.log(args.json ? JSON.stringify(outcome) : describeOutcome(outcome));
    return outcome.answer?.ok ? 0 : 1;
  },
});

/** One line (plus the node's result, if any) for a person. */
function describeOutcome(outcome: AdminOutcome): string {
  const { answer, verb } = outcome;
  const node = outcome.node.slice(0, 16);
  if (!answer)
    return `${verb} ${node}: node unreachable (${outcome.failure?.code}: ${outcome.failure?.message})`;
  const status = answer.ok ? "ok" : `refused ${answer.error?.code}: ${answer.error?.message}`;
  const result = answer.result ? `\n${JSON.stringify(answer.result, null, 2)}` : "";
  return `${verb} ${node}: ${status} (${outcome.rttMs.toFixed(1)} ms)${result}`;
}
