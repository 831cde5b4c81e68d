/**
 * Node side of the Guardian HTTPS API: enrol with a token, renew with the identity key, fetch the
 * revocation list. The Guardian's TLS certificate is checked against the control CA the operator
 * handed out with the token (`caPem`).
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { GuardianApiError } from "./errors.ts";
import type { NodeKeys } from "./node-keys.ts";
import { signJson } from "./signed-json.ts";
import {
  type Credentials,
  ENROL_CONTEXT,
  type EnrolRequest,
  encodePublicKeys,
  PATH_ENROL,
  PATH_RENEW,
  PATH_REVOCATIONS,
  parseCredentials,
  RENEW_CONTEXT,
  type RenewRequest,
} from "./wire.ts";

/* Implementation constants */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface GuardianEndpoint {
  /** Base URL, e.g. https://198.18.0.1:7443 */
  readonly url: string;
  /** The control CA (PEM) that signed the Guardian's API certificate. */
  readonly caPem: string;
}

let lastIssuedAt = 0;
/** Strictly increasing request time (the Guardian refuses a renewal not newer than the last). */
function issuedAt(): number {
  lastIssuedAt = Math.max(Date.now(), lastIssuedAt + 1);
  return lastIssuedAt;
}

export async function enrol(
  endpoint: GuardianEndpoint,
  opts: { token: string; realm: string; keys: NodeKeys },
): Promise<Credentials> {
  const request: EnrolRequest = {
    v: 1,
    type: "enrol",
    token: opts.token,
    realm: opts.realm,
    publicKeys: opts.keys.identity.publicKeys,
    natsPublicKey: opts.keys.natsPublicKey,
    tlsPublicKey: opts.keys.tlsPublicKeyPem,
    issuedAt: issuedAt(),
  };
  const wire = { ...request, publicKeys: encodePublicKeys(request.publicKeys) };
  return parseCredentials(
    await post(endpoint, PATH_ENROL, signJson(opts.keys.identity, ENROL_CONTEXT, wire)),
  );
}

export async function renew(endpoint: GuardianEndpoint, keys: NodeKeys): Promise<Credentials> {
  const request: RenewRequest = {
    v: 1,
    type: "renew",
    nodeId: bytesToHex(keys.identity.nodeId),
    natsPublicKey: keys.natsPublicKey,
    tlsPublicKey: keys.tlsPublicKeyPem,
    issuedAt: issuedAt(),
  };
  return parseCredentials(await post(endpoint, PATH_RENEW, signJson(keys.identity, RENEW_CONTEXT, request)));
}

/** The realm's signed revocation list (verify with src/anchor/revocation.ts verifyRevocationList). */
export async function fetchRevocations(endpoint: GuardianEndpoint, realm: string): Promise<Uint8Array> {
  const res = await call(endpoint, `${PATH_REVOCATIONS}?realm=${encodeURIComponent(realm)}`, {
    method: "GET",
  });
  return new Uint8Array(await res.arrayBuffer());
}

async function post(endpoint: GuardianEndpoint, path: string, body: unknown): Promise<unknown> {
  const res = await call(endpoint, path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return res.json();
}

async function call(endpoint: GuardianEndpoint, path: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(new URL(path, endpoint.url), {
      ...init,
      tls: { ca: endpoint.caPem },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    } as RequestInit);
  } catch (cause) {
    throw new GuardianApiError("GUARDIAN_UNREACHABLE", `cannot reach the Guardian at ${endpoint.url}`, 0, {
      cause,
    });
  }
  if (res.ok) return res;
  let code = "GUARDIAN_REFUSED";
  let message = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string") code = body.error.code.slice(0, 64);
    if (typeof body.error?.message === "string") message = body.error.message.slice(0, 512);
  } catch {
    // not JSON: keep the status line
  }
  throw new GuardianApiError(code, message, res.status);
}
