/**
 * Pushing an account (realm) JWT to every server of the super cluster through the system account
 * (`$SYS.REQ.CLAIMS.UPDATE`, full resolver; research/nats.md §2). nats-server 2.9.10 accepts and
 * stores JWTs signed by untrusted keys, so the signer is checked here first.
 */
import { RequestStrategy } from "nats";
import { verifyJwt } from "../pki/nats-jwt.ts"; // not the barrel: no x509 in a node
import type { ControlConnection } from "./connection.ts";
import { ControlError } from "./errors.ts";

export const CLAIMS_UPDATE_SUBJECT = "$SYS.REQ.CLAIMS.UPDATE";
export const PUSH_WAIT_MS = 1_500;

export interface PushResult {
  /** Server names that answered 200. */
  readonly updated: string[];
  /** Server name → error message for the others. */
  readonly failed: Record<string, string>;
}

/**
 * Pushes `accountJwt` (checked to be signed by `operatorPublicKey`) over a system-account
 * connection and collects the servers' answers for up to PUSH_WAIT_MS (or until `expectServers`
 * answered). Serialise pushes: the last write wins on the servers.
 */
export async function pushAccountJwt(
  system: ControlConnection,
  accountJwt: string,
  operatorPublicKey: string,
  expectServers?: number,
): Promise<PushResult> {
  verifyJwt(accountJwt, { type: "account", trustedIssuers: [operatorPublicKey] });
  const updated: string[] = [];
  const failed: Record<string, string> = {};
  const replies = await system.nc.requestMany(CLAIMS_UPDATE_SUBJECT, new TextEncoder().encode(accountJwt), {
    maxWait: PUSH_WAIT_MS,
    strategy: expectServers ? RequestStrategy.Count : RequestStrategy.Timer,
    ...(expectServers ? { maxMessages: expectServers } : {}),
  });
  for await (const m of replies) {
    let r: {
      data?: { code?: number; message?: string };
      error?: { code?: number; description?: string };
      server?: { name?: string };
    };
    try {
      r = JSON.parse(new TextDecoder().decode(m.data));
    } catch {
      continue;
    }
    const name = r.server?.name ?? "?";
    if (r.data?.code === 200) updated.push(name);
    else failed[name] = r.error?.description ?? r.data?.message ?? "unknown";
  }
  if (updated.length === 0) {
    throw new ControlError(
      "CONTROL_PUSH_FAILED",
      `no server accepted the account JWT (${JSON.stringify(failed)})`,
    );
  }
  return { updated, failed };
}
