import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTrust, loadTrust, trustPaths } from "./trust-store.ts";

const root = mkdtempSync(join(tmpdir(), "veilnet-trust-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("trust-store", () => {
  it("creates a trust directory with 0600 secrets and loads it back", async () => {
    const dir = join(root, "t1");
    const made = await createTrust({
      dir,
      operatorName: "veilnet-test",
      servers: [{ name: "A1", commonName: "A1", ipAddresses: ["127.0.0.1"], dnsNames: ["localhost"] }],
    });
    const p = trustPaths(dir);
    for (const secret of [
      p.operatorSeed,
      p.systemAccountSeed,
      p.systemUserCreds,
      p.caKey,
      p.serverKey("A1"),
    ]) {
      expect(statSync(secret).mode & 0o777).toBe(0o600);
    }
    const loaded = await loadTrust(dir);
    expect(loaded.operator.publicKey).toBe(made.operator.publicKey);
    expect(loaded.systemAccount.publicKey).toBe(made.systemAccount.publicKey);
    expect(await loaded.ca.verifyIssued(await Bun.file(p.serverCert("A1")).text())).toBe(true);
  });

  it("refuses to overwrite any existing file and writes nothing", async () => {
    const dir = join(root, "t2");
    const p = trustPaths(dir);
    await createTrust({ dir, operatorName: "x", servers: [] });
    const before = await Bun.file(p.operatorSeed).text();
    await expect(createTrust({ dir, operatorName: "x", servers: [] })).rejects.toMatchObject({
      code: "PKI_EXISTS",
    });
    expect(await Bun.file(p.operatorSeed).text()).toBe(before);
  });

  it("detects a mismatched operator JWT", async () => {
    const dir = join(root, "t3");
    const other = join(root, "t4");
    await createTrust({ dir, operatorName: "x", servers: [] });
    await createTrust({ dir: other, operatorName: "y", servers: [] });
    rmSync(trustPaths(dir).operatorJwt);
    writeFileSync(trustPaths(dir).operatorJwt, await Bun.file(trustPaths(other).operatorJwt).text());
    await expect(loadTrust(dir)).rejects.toMatchObject({ code: "PKI_JWT_UNTRUSTED" });
  });
});
