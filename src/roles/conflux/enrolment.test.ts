import { describe, expect, test } from "bun:test";
import { GuardianApiError } from "../../guardian-api/errors.ts";
import { retryUnreachable } from "./enrolment.ts";

const unreachable = () =>
  new GuardianApiError("GUARDIAN_UNREACHABLE", "cannot reach the Guardian at https://x");

describe("reaching Guardian at start", () => {
  test("an unreachable Guardian is asked again after each backoff, then the answer is used", async () => {
    const lines: string[] = [];
    let calls = 0;
    const got = await retryUnreachable(
      async () => {
        calls++;
        if (calls < 3) throw unreachable();
        return "credentials";
      },
      (l) => lines.push(l),
      [1, 1, 1],
    );
    expect(got).toBe("credentials");
    expect(calls).toBe(3);
    expect(lines).toHaveLength(2);
  });

  test("after the last backoff the error is thrown; a refusal is never retried", async () => {
    let calls = 0;
    const always = retryUnreachable(async () => {
      calls++;
      throw unreachable();
    }, () => {}, [1, 1]);
    await expect(always).rejects.toThrow("cannot reach the Guardian");
    expect(calls).toBe(3);

    calls = 0;
    const refused = retryUnreachable(async () => {
      calls++;
      throw new GuardianApiError("TOKEN_INVALID", "the enrolment token is not known", 401);
    }, () => {}, [1, 1]);
    await expect(refused).rejects.toThrow("not known");
    expect(calls).toBe(1);
  });
});
