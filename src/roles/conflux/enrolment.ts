/**
 * First start and restarts: enrol with a token when the state directory holds no credentials,
 * otherwise reuse them (renewing at once if they are past half-life). The Guardian URL is kept in
 * the state directory so renewals need no flags. A Guardian that cannot be reached (down, or too
 * busy to answer in time) is asked again a few times with backoff; Guardian makes a repeated
 * enrolment of the same identity with the same token idempotent, and a refusal is never retried.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../errors.ts";
import { enrol, type GuardianEndpoint, renew } from "../../guardian-api/client.ts";
import { GuardianApiError } from "../../guardian-api/errors.ts";
import type { Credentials } from "../../guardian-api/wire.ts";
import { writeFileAtomic } from "../../storage/atomic-file.ts";
import type { ConfluxConfig } from "./config.ts";
import { type NodeState, NodeStateError } from "./node-state.ts";

export const GUARDIAN_FILE = "guardian.json";
/* Implementation constants */
/** Waits before the 2nd, 3rd, … attempt to reach Guardian at start. */
export const GUARDIAN_RETRY_BACKOFF_MS = [1_000, 2_000, 4_000] as const;

export interface Enrolled {
  readonly credentials: Credentials;
  readonly guardian: GuardianEndpoint;
}

export async function ensureEnrolled(
  state: NodeState,
  config: ConfluxConfig,
  log: (line: string) => void,
): Promise<Enrolled> {
  const existing = state.loadCredentials();
  if (existing) {
    const guardian = loadGuardian(state, existing, config);
    const now = Date.now();
    if (existing.expiresAt - now < (existing.expiresAt - existing.issuedAt) / 2) {
      log("credentials past half-life: renewing with Guardian");
      const renewed = await retryUnreachable(() => renew(guardian, state.keys), log);
      state.saveCredentials(renewed);
      return { credentials: renewed, guardian };
    }
    return { credentials: existing, guardian };
  }
  const missing = [
    ["--guardian", config.guardianUrl],
    ["--token", config.token],
    ["--realm", config.realm],
    ["--guardian-ca", config.guardianCaFile],
  ].filter(([, v]) => v === undefined);
  if (missing.length > 0) {
    throw new UsageError(
      "ENROL_MISSING",
      `no credentials in ${state.dir}: the first start needs ${missing.map(([f]) => f).join(", ")}`,
    );
  }
  const caFile = config.guardianCaFile!;
  if (!existsSync(caFile)) throw new UsageError("ENROL_NO_CA", `--guardian-ca: ${caFile} does not exist`);
  const guardian = { url: config.guardianUrl!, caPem: readFileSync(caFile, "utf8") };
  log(`enrolling with ${guardian.url} into realm ${config.realm}`);
  const credentials = await retryUnreachable(
    () => enrol(guardian, { token: config.token!, realm: config.realm!, keys: state.keys }),
    log,
  );
  writeFileAtomic(join(state.dir, GUARDIAN_FILE), JSON.stringify({ url: guardian.url }), { mode: 0o600 });
  state.saveCredentials(credentials);
  log(`enrolled as ${credentials.nodeId.slice(0, 8)} ${credentials.ipv4} in realm ${credentials.realm}`);
  return { credentials, guardian: { url: guardian.url, caPem: credentials.caBundle } };
}

function loadGuardian(state: NodeState, c: Credentials, config: ConfluxConfig): GuardianEndpoint {
  const path = join(state.dir, GUARDIAN_FILE);
  if (config.guardianUrl) return { url: config.guardianUrl, caPem: c.caBundle };
  if (!existsSync(path))
    throw new NodeStateError("STATE_NO_GUARDIAN", `${path} is missing; pass --guardian URL`);
  const o = JSON.parse(readFileSync(path, "utf8")) as { url?: unknown };
  if (typeof o.url !== "string") throw new NodeStateError("STATE_NO_GUARDIAN", `${path} has no url`);
  return { url: o.url, caPem: c.caBundle };
}

/** Runs `call`, again after each backoff while Guardian is unreachable; other errors pass at once. */
export async function retryUnreachable<T>(
  call: () => Promise<T>,
  log: (line: string) => void,
  backoffMs: readonly number[] = GUARDIAN_RETRY_BACKOFF_MS,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const wait = backoffMs[attempt];
      if (!(err instanceof GuardianApiError && err.code === "GUARDIAN_UNREACHABLE") || wait === undefined)
        throw err;
      log(`${err.message}: trying again in ${wait} ms`);
      await Bun.sleep(wait);
    }
  }
}
