/**
 * Enrolment and renewal. Each request is checked completely before anything is written: proof of
 * possession (the request is signed by the hybrid identity whose keys it carries), freshness, the
 * token, the realm. Credentials are signed next, and the database write is last, in one
 * transaction that re-checks the token under the write lock, so a crash leaves either nothing or
 * a whole node with its token use. A refusal writes nothing.
 */

import { nodeAddress6 } from "../../anchor/address6.ts";
import { TAINT_PATTERN } from "../../anchor/certificate.ts";
import { nodeIdOf } from "../../anchor/identity.ts";
import { openUnverified, verifyOpened } from "../../guardian-api/signed-json.ts";
import {
  type Credentials,
  ENROL_CONTEXT,
  parseEnrolRequest,
  parseRenewRequest,
  RENEW_CONTEXT,
  REQUEST_MAX_SKEW_MS,
} from "../../guardian-api/wire.ts";
import type { Authority } from "./authority.ts";
import { hexId, type IssuePolicy, issueCredentials, QUARANTINE_TAINT } from "./credentials.ts";
import { GuardianError } from "./errors.ts";
import { allocateIpv4 } from "./ipv4.ts";
import { NodeStatus } from "./store/records.ts";
import { hashToken, isTokenShaped } from "./tokens.ts";

/* Implementation constants */
const MAX_ALLOCATION_RACES = 4;

export class EnrolmentService {
  readonly #a: Authority;
  readonly #policy: IssuePolicy;
  constructor(authority: Authority, policy: IssuePolicy) {
    this.#a = authority;
    this.#policy = policy;
  }

  get policy(): IssuePolicy {
    return this.#policy;
  }

  async enrol(body: unknown, now = Date.now()): Promise<Credentials> {
    const opened = openUnverified(body);
    const req = parseEnrolRequest(opened.value);
    const keys = { ed25519: req.publicKeys.ed25519, mldsa65: req.publicKeys.mldsa65 };
    if (!verifyOpened(opened, ENROL_CONTEXT, keys)) {
      throw new GuardianError(
        "ENROL_BAD_SIGNATURE",
        "the request is not signed by the identity it carries",
        401,
      );
    }
    fresh(req.issuedAt, now);
    if (!isTokenShaped(req.token))
      throw new GuardianError("TOKEN_INVALID", "the enrolment token is not known", 401);
    const tokenHash = hashToken(req.token);
    const nodeId = hexId(nodeIdOf(req.publicKeys));
    const store = this.#a.store;
    for (let attempt = 0; ; attempt++) {
      const { token } = store.checkToken(tokenHash, req.realm, nodeId, now);
      const existing = store.node(nodeId);
      if (existing?.status === NodeStatus.Revoked) {
        throw new GuardianError("NODE_REVOKED", "this node identity has been revoked", 403);
      }
      if (existing && existing.realm !== req.realm) {
        throw new GuardianError("NODE_REALM_CONFLICT", "this node is enrolled in another realm", 409);
      }
      const ipv4 = existing?.ipv4 ?? allocateIpv4(req.realm, nodeId, (o) => store.ipv4Taken(req.realm, o));
      const ipv6 = nodeAddress6(req.realm, nodeIdOf(req.publicKeys));
      const taints = token.taints;
      const creds = await issueCredentials(this.#a, this.#policy, {
        nodeId,
        realm: req.realm,
        publicKeys: req.publicKeys,
        ipv4,
        ipv6,
        taints: existing?.status === NodeStatus.Quarantined ? [...taints, QUARANTINE_TAINT] : taints,
        natsPublicKey: req.natsPublicKey,
        tlsPublicKey: req.tlsPublicKey,
        now,
      });
      try {
        store.commitEnrolment({
          tokenHash,
          realm: req.realm,
          now,
          node: {
            id: nodeId,
            realm: req.realm,
            publicKeys: req.publicKeys,
            natsPublic: req.natsPublicKey,
            tlsPublic: new TextEncoder().encode(req.tlsPublicKey),
            ipv4,
            ipv6,
            taints,
            lastSignedAt: req.issuedAt,
            expiresAt: creds.expiresAt,
          },
        });
      } catch (err) {
        if (err instanceof GuardianError && err.code === "IPV4_RACE" && attempt < MAX_ALLOCATION_RACES)
          continue;
        throw err;
      }
      return creds;
    }
  }

  async renew(body: unknown, now = Date.now()): Promise<Credentials> {
    const opened = openUnverified(body);
    const req = parseRenewRequest(opened.value);
    const store = this.#a.store;
    const node = store.node(req.nodeId);
    if (!node) throw new GuardianError("NODE_UNKNOWN", "no node with this id is enrolled", 404);
    const keys = { ed25519: node.publicKeys.ed25519, mldsa65: node.publicKeys.mldsa65 };
    if (!verifyOpened(opened, RENEW_CONTEXT, keys)) {
      throw new GuardianError("RENEW_BAD_SIGNATURE", "the request is not signed by the node's identity", 401);
    }
    fresh(req.issuedAt, now);
    if (node.status === NodeStatus.Revoked) {
      throw new GuardianError("NODE_REVOKED", "this node identity has been revoked", 403);
    }
    if (node.expiresAt <= now) {
      throw new GuardianError(
        "CREDENTIALS_EXPIRED",
        "the credentials have expired: enrol again with a token",
        401,
      );
    }
    if (req.issuedAt <= node.lastSignedAt) {
      throw new GuardianError("RENEW_REPLAYED", "this renewal request is not newer than the last one", 409);
    }
    const creds = await issueCredentials(this.#a, this.#policy, {
      nodeId: node.id,
      realm: node.realm,
      publicKeys: node.publicKeys,
      ipv4: node.ipv4,
      ipv6: node.ipv6,
      taints: node.status === NodeStatus.Quarantined ? [...node.taints, QUARANTINE_TAINT] : node.taints,
      natsPublicKey: req.natsPublicKey,
      tlsPublicKey: req.tlsPublicKey,
      now,
    });
    store.commitRenewal(
      node.id,
      {
        signedAt: req.issuedAt,
        expiresAt: creds.expiresAt,
        natsPublic: req.natsPublicKey,
        tlsPublic: new TextEncoder().encode(req.tlsPublicKey),
      },
      now,
    );
    return creds;
  }
}

/** Taints as tokens bind them: the Anchor certificate's alphabet, at most 16, no duplicates. */
export function parseTaints(list: readonly string[]): string[] {
  const out = [...new Set(list.map((t) => t.trim()).filter((t) => t.length > 0))].sort();
  for (const t of out) {
    if (!TAINT_PATTERN.test(t))
      throw new GuardianError("TAINT_BAD", `taint '${t}' must be 1-32 of [a-z0-9._:-]`);
  }
  if (out.length > 15) throw new GuardianError("TAINT_TOO_MANY", "at most 15 taints");
  return out;
}

function fresh(issuedAt: number, now: number): void {
  if (Math.abs(now - issuedAt) > REQUEST_MAX_SKEW_MS) {
    throw new GuardianError(
      "REQUEST_STALE",
      "the request's issuedAt is too far from the Guardian's clock",
      400,
    );
  }
}
