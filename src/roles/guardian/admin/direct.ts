/**
 * `veilnet admin` done by the CLI itself: opens the Guardian state (sqlite WAL allows it beside a
 * running Guardian) and talks to nodes through Master with the Guardian's keys. Loaded only when
 * needed: it pulls in the certificate, NATS and store code.
 */
import { UsageError } from "../../../errors.ts";
import { type AdminVerb, isAdminVerb } from "../../../guardian-api/admin-protocol.ts";
import { type Authority, createRealm, openAuthority } from "../authority.ts";
import { parseDuration, parseList } from "../duration.ts";
import { parseTaints } from "../enrol.ts";
import { ipv4String } from "../ipv4.ts";
import { ControlLink } from "../nats/control-link.ts";
import { hashToken, newToken, tokenHandle } from "../tokens.ts";
import { type AdminOutcome, runAdmin } from "./actions.ts";
import { type AdminCliArgs, adminTimeoutMs, nodeCommandArgs } from "./cli-args.ts";

/** Runs one `veilnet admin` action against the state directory; a node command's outcome is returned for printing. */
export async function runDirect(args: AdminCliArgs): Promise<number | AdminOutcome> {
  const a = await openAuthority(args.state);
  try {
    return await act(a, args);
  } finally {
    a.close();
  }
}

async function act(a: Authority, args: AdminCliArgs): Promise<number | AdminOutcome> {
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
  if (!isAdminVerb(args.action)) {
    throw new UsageError("USAGE_ADMIN", `unknown action '${args.action}' (see veilnet admin --help)`);
  }
  const verb: AdminVerb = args.action;
  const node = need(args.target, `${verb} needs a NODE`);
  const link = linkFor(a, args);
  if (!link)
    throw new UsageError("USAGE_NO_MASTERS", "no Master URLs: pass --masters or run the Guardian with them");
  try {
    return await runAdmin(a, link, verb, node, nodeCommandArgs(args), "admin", adminTimeoutMs(args));
  } finally {
    await link.close();
  }
}

function linkFor(a: Authority, args: AdminCliArgs): ControlLink | undefined {
  const saved = a.store.setting("masters");
  const masters = args.masters ? parseList(args.masters) : saved ? (JSON.parse(saved) as string[]) : [];
  return masters.length > 0 ? new ControlLink(a, masters) : undefined;
}

function need(v: string | undefined, message: string): string {
  if (!v) throw new UsageError("USAGE_ADMIN", message);
  return v;
}
