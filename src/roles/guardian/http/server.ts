/**
 * The Guardian HTTPS API on Bun.serve (TLS with the control CA's "guardian-api" certificate).
 * Routes and bodies: src/guardian-api/wire.ts. Bodies are bounded, JSON-parsed, then checked field
 * by field; refusals are 4xx `{ error: { code, message } }`, internal faults 500 without details.
 */

import { readFileSync } from "node:fs";
import type { Server } from "bun";
import { GuardianApiError } from "../../../guardian-api/errors.ts";
import {
  type ApiErrorBody,
  credentialsJson,
  type Health,
  PATH_ENROL,
  PATH_HEALTH,
  PATH_RENEW,
  PATH_REVOCATIONS,
} from "../../../guardian-api/wire.ts";
import { VERSION } from "../../../version.ts";
import type { Authority } from "../authority.ts";
import type { EnrolmentService } from "../enrol.ts";
import { GuardianError } from "../errors.ts";
import { API_CERT_NAME } from "../paths.ts";
import { signedRevocationList } from "../revocations.ts";

/* Implementation constants */
export const MAX_BODY_BYTES = 64 * 1024;

export interface ApiServerOptions {
  readonly hostname: string;
  readonly port: number;
  /** Called after each successful enrolment or renewal (for logs and metrics). */
  readonly onIssued?: (kind: "enrol" | "renew", nodeId: string, realm: string) => void;
  /** Refusals are logged here (code and message only; never the token). */
  readonly onRefused?: (path: string, code: string, message: string) => void;
}

export function startApiServer(
  a: Authority,
  service: EnrolmentService,
  o: ApiServerOptions,
): Server<undefined> {
  const tp = a.paths.trust;
  return Bun.serve({
    hostname: o.hostname,
    port: o.port,
    maxRequestBodySize: MAX_BODY_BYTES,
    tls: {
      cert: readFileSync(tp.serverCert(API_CERT_NAME), "utf8"),
      key: readFileSync(tp.serverKey(API_CERT_NAME), "utf8"),
    },
    async fetch(req) {
      const url = new URL(req.url);
      try {
        if (req.method === "POST" && (url.pathname === PATH_ENROL || url.pathname === PATH_RENEW)) {
          const body = await readJson(req);
          const kind = url.pathname === PATH_ENROL ? "enrol" : "renew";
          const creds = kind === "enrol" ? await service.enrol(body) : await service.renew(body);
          o.onIssued?.(kind, creds.nodeId, creds.realm);
          return Response.json(credentialsJson(creds));
        }
        if (req.method === "GET" && url.pathname === PATH_REVOCATIONS) {
          const realm = url.searchParams.get("realm") ?? "";
          if (!a.store.realm(realm)) throw new GuardianError("REALM_UNKNOWN", "no such realm", 404);
          return new Response(signedRevocationList(a, realm), {
            headers: { "content-type": "application/octet-stream" },
          });
        }
        if (req.method === "GET" && url.pathname === PATH_HEALTH) {
          const health: Health = {
            ok: true,
            version: VERSION,
            realms: a.store.realms().length,
            nodes: a.store.nodes().length,
          };
          return Response.json(health);
        }
        return refusal(404, "NOT_FOUND", "no such endpoint");
      } catch (err) {
        if (err instanceof GuardianError || err instanceof GuardianApiError) {
          const status = err.status >= 400 && err.status < 600 ? err.status : 400;
          o.onRefused?.(url.pathname, err.code, err.message);
          return refusal(status, err.code, err.message);
        }
        console.error(
          `guardian: internal error on ${url.pathname}: ${err instanceof Error ? err.message : err}`,
        );
        return refusal(500, "INTERNAL", "internal error");
      }
    },
  });
}

async function readJson(req: Request): Promise<unknown> {
  const length = Number(req.headers.get("content-length") ?? "0");
  if (length > MAX_BODY_BYTES) throw new GuardianError("BODY_TOO_LARGE", "request body too large", 413);
  const text = await req.text();
  if (text.length > MAX_BODY_BYTES) throw new GuardianError("BODY_TOO_LARGE", "request body too large", 413);
  try {
    return JSON.parse(text);
  } catch {
    throw new GuardianError("BAD_JSON", "request body is not JSON", 400);
  }
}

function refusal(status: number, code: string, message: string): Response {
  const body: ApiErrorBody = { error: { code, message } };
  return Response.json(body, { status });
}
