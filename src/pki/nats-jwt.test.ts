import { describe, expect, it } from "bun:test";
import { decode } from "@nats-io/jwt";
import { PkiError } from "./errors.ts";
import {
  formatCreds,
  mintAccountJwt,
  mintOperatorJwt,
  mintUserJwt,
  natsKeyFromSeed,
  newNatsKey,
  verifyJwt,
} from "./nats-jwt.ts";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof PkiError ? e.code : `not PkiError: ${String(e)}`;
  }
  return undefined;
}

describe("nats-jwt", () => {
  const operator = newNatsKey("operator");
  const sys = newNatsKey("account");

  it("mints an operator JWT naming the system account, verifiable by its own key", async () => {
    const jwt = await mintOperatorJwt({ name: "op", operator, systemAccount: sys.publicKey });
    const claims = verifyJwt<{ system_account: string }>(jwt, {
      type: "operator",
      trustedIssuers: [operator.publicKey],
    });
    expect(claims.nats.system_account).toBe(sys.publicKey);
  });

  it("account JWTs always carry explicit unlimited limits and revocations", async () => {
    const realm = newNatsKey("account");
    const jwt = await mintAccountJwt({
      name: "realm",
      account: realm.publicKey,
      operator,
      revocations: { [newNatsKey("user").publicKey]: 42 },
    });
    const c = decode<{ limits: Record<string, unknown>; revocations: Record<string, number> }>(jwt);
    expect(c.nats.limits).toMatchObject({ conn: -1, subs: -1, payload: -1, data: -1 });
    expect(Object.values(c.nats.revocations ?? {})).toEqual([42]);
    expect(c.iss).toBe(operator.publicKey);
  });

  it("rejects an account JWT signed by an untrusted key, a tampered one, and a wrong type", async () => {
    const realm = newNatsKey("account");
    const rogue = newNatsKey("operator");
    const forged = await mintAccountJwt({ name: "r", account: realm.publicKey, operator: rogue });
    expect(codeOf(() => verifyJwt(forged, { trustedIssuers: [operator.publicKey] }))).toBe(
      "PKI_JWT_UNTRUSTED",
    );
    const good = await mintAccountJwt({ name: "r", account: realm.publicKey, operator });
    const [h, p, s] = good.split(".");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString());
    payload.name = "other";
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${s}`;
    expect(codeOf(() => verifyJwt(tampered))).toBe("PKI_JWT_BAD_SIGNATURE");
    expect(codeOf(() => verifyJwt(good, { type: "user" }))).toBe("PKI_JWT_WRONG_TYPE");
    expect(codeOf(() => verifyJwt("a.b"))).toBe("PKI_JWT_MALFORMED");
    expect(codeOf(() => verifyJwt("###.b.c"))).toBe("PKI_JWT_MALFORMED");
  });

  it("user JWTs expire after their ttl and carry permissions", async () => {
    const realm = newNatsKey("account");
    const user = newNatsKey("user");
    const now = 1_700_000_000;
    const jwt = await mintUserJwt({
      name: "node",
      user: user.publicKey,
      account: realm,
      permissions: { pub: { allow: ["a.>"] }, sub: { allow: ["_INBOX.>"] } },
      ttlSeconds: 60,
      nowSeconds: now,
    });
    const c = verifyJwt<{ pub: { allow: string[] } }>(jwt, {
      type: "user",
      trustedIssuers: [realm.publicKey],
      nowSeconds: now + 59,
    });
    expect(c.exp).toBe(now + 60);
    expect(c.nats.pub?.allow).toEqual(["a.>"]);
    expect(codeOf(() => verifyJwt(jwt, { nowSeconds: now + 60 }))).toBe("PKI_JWT_EXPIRED");
    expect(formatCreds(jwt, user)).toContain(jwt);
    expect(formatCreds(jwt, user)).toContain(user.seed);
  });

  it("seeds round-trip and are checked for kind", () => {
    const a = newNatsKey("account");
    expect(natsKeyFromSeed(a.seed, "account").publicKey).toBe(a.publicKey);
    expect(codeOf(() => natsKeyFromSeed(a.seed, "operator"))).toBe("PKI_BAD_SEED");
    expect(codeOf(() => natsKeyFromSeed("SAnotaseed", "account"))).toBe("PKI_BAD_SEED");
  });
});
