/**
 * `veilnet admin ACTION …` on the Guardian host. It opens the Guardian state directly (sqlite WAL
 * allows it beside a running Guardian) and talks to nodes through Master with the Guardian's keys.
 *
 *   realm-create NAME | realms
 *   token-create --realm R [--taints a,b] [--uses N] [--ttl 24h] [--label TEXT] | tokens
 *   nodes [--realm R] | audit [--limit N]
 *   query NODE | taint NODE T | untaint NODE T | quarantine NODE | release NODE
 *   invalidate NODE | revoke NODE [--reason TEXT] | shutdown NODE [--hard]
 */
import { defineCommand } from "citty";
import { UsageError } from "../../../errors.ts";
import type { AdminVerb } from "../../../guardian-api/admin-protocol.ts";
import { type Authority, createRealm, openAuthority } from "../authority.ts";
import { DEFAULT_STATE_DIR } from "../command.ts";
import { parseDuration, parseList } from "../duration.ts";
import { parseTaints } from "../enrol.ts";
import { ipv4String } from "../ipv4.ts";
import { ControlLink } from "../nats/control-link.ts";
import { hashToken, newToken, tokenHandle } from "../tokens.ts";
import { ADMIN_TIMEOUT_MS, runAdmin } from "./actions.ts";

const NODE_VERBS = new Set([
  "query",
  "taint",
  "untaint",
  "quarantine",
  "release",
  "invalidate",
  "revoke",
  "shutdown",
]);

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
    const a = await openAuthority(args.state ?? DEFAULT_STATE_DIR);
    try {
      return await act(a, args);
    } finally {
      a.close();
    }
  },
});

type Args = {
  action: string;
  target?: string;
  value?: string;
  masters?: string;
  realm?: string;
  taints?: string;
  uses?: string;
  ttl?: string;
  label?: string;
  reason?: string;
  hard?: boolean;
  timeout?: string;
  limit?: string;
  json?: boolean;
};

async function act(a: Authority, args: Args): Promise<number> {
  const print = (human: string, data: unknown) => console.log(args.json ? JSON.stringify(data) : human);
  switch (args.action) {
    case "realm-create": {
      const realm = createRealm(a, need(args.target, "realm-create needs a realm name"), "admin");
      const link = linkFor(a, args);
      if (link) {
        try {
          await link.pushRealm(realm.id);
        } finally {
          await link.close();
        }
      }
      print(`realm ${realm.id} account ${realm.accountPublic}${link ? " (pushed to Master)" : ""}`, realm);
      return 0;
    }
    case "realms":
      for (const r of a.store.realms()) print(`${r.id}\t${r.accountPublic}`, r);
      return 0;
    case "token-create": {
      const realm = need(args.realm, "token-create needs --realm");
      const uses = Number(args.uses ?? "1");
      if (!Number.isSafeInteger(uses) || uses < 1)
        throw new UsageError("USAGE_BAD_USES", "--uses must be ≥ 1");
      const token = newToken();
      const expiresAt = Date.now() + parseDuration(args.ttl ?? "24h", "--ttl");
      const rec = a.store.createToken(
        {
          hash: hashToken(token),
          realm,
          taints: parseTaints(parseList(args.taints)),
          maxUses: uses,
          expiresAt,
          label: args.label ?? "",
        },
        "admin",
        Date.now(),
      );
      print(token, {
        token,
        id: tokenHandle(rec.hash),
        realm,
        taints: rec.taints,
        uses,
        expiresAt,
        caFile: a.paths.trust.caCert,
      });
      return 0;
    }
    case "tokens":
      for (const t of a.store.tokens()) {
        const data = { ...t, hash: undefined, id: tokenHandle(t.hash) };
        print(
          `${data.id}\t${t.realm}\t${t.uses}/${t.maxUses}\t${new Date(t.expiresAt).toISOString()}\t${t.taints.join(",")}\t${t.label}`,
          data,
        );
      }
      return 0;
    case "nodes":
      for (const n of a.store.nodes(args.realm)) {
        const data = {
          id: n.id,
          realm: n.realm,
          ipv4: ipv4String(n.ipv4),
          ipv6: n.ipv6,
          taints: n.taints,
          status: n.status,
          expiresAt: n.expiresAt,
        };
        print(
          `${n.id.slice(0, 16)}\t${n.realm}\t${data.ipv4}\t${n.ipv6}\t${n.status}\t${n.taints.join(",")}`,
          data,
        );
      }
      return 0;
    case "audit":
      for (const e of a.store.auditLog(Number(args.limit ?? "50"))) {
        print(
          `${new Date(e.at).toISOString()}\t${e.actor}\t${e.action}\t${e.target.slice(0, 16)}\t${e.outcome}\t${e.detail}`,
          e,
        );
      }
      return 0;
    default:
      break;
  }
  if (!NODE_VERBS.has(args.action)) {
    throw new UsageError("USAGE_ADMIN", `unknown action '${args.action}' (see veilnet admin --help)`);
  }
  const verb = args.action as AdminVerb;
  const node = need(args.target, `${verb} needs a NODE`);
  const link = linkFor(a, args);
  if (!link)
    throw new UsageError("USAGE_NO_MASTERS", "no Master URLs: pass --masters or run the Guardian with them");
  try {
    const outcome = await runAdmin(
      a,
      link,
      verb,
      node,
      {
        ...(args.value ? { taint: args.value } : {}),
        ...(args.hard ? { hard: true } : {}),
        ...(args.reason ? { reason: args.reason } : {}),
      },
      "admin",
      args.timeout ? parseDuration(args.timeout, "--timeout") : ADMIN_TIMEOUT_MS,
    );
    const answer = outcome.answer;
    const human = answer
      ? `${verb} ${outcome.node.slice(0, 16)}: ${answer.ok ? "ok" : `refused ${answer.error?.code}: ${answer.error?.message}`} (${outcome.rttMs.toFixed(1)} ms)${answer.result ? `\n${JSON.stringify(answer.result, null, 2)}` : ""}`
      : `${verb} ${outcome.node.slice(0, 16)}: node unreachable (${outcome.failure?.code}: ${outcome.failure?.message})`;
    print(human, outcome);
    return answer?.ok ? 0 : 1;
  } finally {
    await link.close();
  }
}

function linkFor(a: Authority, args: Args): ControlLink | undefined {
  const saved = a.store.setting("masters");
  const masters = args.masters ? parseList(args.masters) : saved ? (JSON.parse(saved) as string[]) : [];
  return masters.length > 0 ? new ControlLink(a, masters) : undefined;
}

function need(v: string | undefined, message: string): string {
  if (!v) throw new UsageError("USAGE_ADMIN", message);
  return v;
}
