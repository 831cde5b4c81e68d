import { describe, expect, test } from "bun:test";
import { bytesToHex } from "@noble/hashes/utils.js";
import { Identity } from "../anchor/identity.ts";
import {
  ADMIN_RESULT_CONTEXT,
  type AdminCommand,
  type AdminResult,
  newAdminCommand,
  signAdminCommand,
  verifyAdminResult,
} from "./admin-protocol.ts";
import { type AdminHandler, type AdminRefusal, AdminResponder } from "./admin-responder.ts";
import { openSignedJson } from "./signed-json.ts";

const guardian = Identity.generate();
const node = Identity.generate();
const nodeId = bytesToHex(node.nodeId);
const realm = "alpha";
const guardianKeys = { ed25519: guardian.ed25519Public, mldsa65: guardian.mldsa65Public };
const nodeKeys = { ed25519: node.ed25519Public, mldsa65: node.mldsa65Public };

function setup() {
  const taints = new Set<string>();
  const calls: string[] = [];
  const refusals: AdminRefusal[] = [];
  const handler: AdminHandler = {
    query: () => ({ taints: [...taints] }),
    taint: (t) => {
      taints.add(t);
      calls.push(`taint ${t}`);
      return { taints: [...taints] };
    },
    untaint: (t) => {
      taints.delete(t);
      return { taints: [...taints] };
    },
    quarantine: () => {
      calls.push("quarantine");
      return { quarantined: true };
    },
    release: () => ({ quarantined: false }),
    invalidate: () => ({ invalidated: true }),
    revoke: () => ({ revoked: true }),
    shutdown: (hard) => {
      calls.push(`shutdown ${hard}`);
      return { stopping: hard ? "hard" : "graceful" };
    },
  };
  const responder = new AdminResponder({
    node,
    nodeId,
    realm,
    guardian: guardianKeys,
    handler,
    onRefused: (r) => refusals.push(r),
  });
  return { responder, calls, refusals };
}

async function run(r: AdminResponder, c: AdminCommand, signer = guardian) {
  const answer = await r.handle(signAdminCommand(signer, c));
  return verifyAdminResult(answer, c, nodeKeys);
}

describe("admin responder", () => {
  test("executes a signed command and answers with a signed result", async () => {
    const { responder, calls } = setup();
    const c = newAdminCommand("taint", { nodeId, realm }, { taint: "no-exit" });
    const res = await run(responder, c);
    expect(res.ok).toBe(true);
    expect(res.result).toEqual({ taints: ["no-exit"] });
    expect(calls).toEqual(["taint no-exit"]);
    const q = await run(responder, newAdminCommand("query", { nodeId, realm }));
    expect(q.result).toEqual({ taints: ["no-exit"] });
  });

  test("refuses and logs replayed, expired, forged and misaddressed commands", async () => {
    const { responder, calls, refusals } = setup();
    const c = newAdminCommand("shutdown", { nodeId, realm }, { hard: true });
    expect((await run(responder, c)).ok).toBe(true);
    const replay = await run(responder, c);
    expect(replay.error?.code).toBe("ADMIN_REPLAYED");

    const expired = newAdminCommand("quarantine", { nodeId, realm }, {}, Date.now() - 60_000, 10_000);
    expect((await run(responder, expired)).error?.code).toBe("ADMIN_EXPIRED");

    const forged = newAdminCommand("quarantine", { nodeId, realm });
    expect((await run(responder, forged, Identity.generate())).error?.code).toBe("ADMIN_BAD_SIGNATURE");

    const other = newAdminCommand("quarantine", { nodeId: "ab".repeat(32), realm });
    const misaddressed = await responder.handle(signAdminCommand(guardian, other));
    expect(() => verifyAdminResult(misaddressed, other, nodeKeys)).toThrow("another node");
    const opened = openSignedJson(misaddressed, ADMIN_RESULT_CONTEXT, nodeKeys) as AdminResult;
    expect(opened.error?.code).toBe("ADMIN_WRONG_TARGET");

    const tooLong = newAdminCommand("quarantine", { nodeId, realm }, {}, Date.now(), 3_600_000);
    expect((await run(responder, tooLong)).error?.code).toBe("ADMIN_LIFETIME");

    expect(calls).toEqual(["shutdown true"]);
    expect(refusals.map((r) => r.code)).toEqual([
      "ADMIN_REPLAYED",
      "ADMIN_EXPIRED",
      "ADMIN_BAD_SIGNATURE",
      "ADMIN_WRONG_TARGET",
      "ADMIN_LIFETIME",
    ]);
  });

  test("garbage never throws and is answered with a signed refusal", async () => {
    const { responder, refusals } = setup();
    const out = await responder.handleBytes(new TextEncoder().encode("{not json"));
    const parsed = JSON.parse(new TextDecoder().decode(out));
    expect(typeof parsed.signature).toBe("string");
    expect(refusals[0]?.code).toBe("ADMIN_BAD_ENVELOPE");
  });
});
