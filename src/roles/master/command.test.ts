import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const CLI = resolve(import.meta.dir, "../../cli.ts");
const dir = mkdtempSync(join(tmpdir(), "veilnet-master-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function veilnet(...args: string[]) {
  const r = Bun.spawnSync([process.execPath, CLI, "--role", "master", ...args]);
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("veilnet --role master", () => {
  const plan = join(dir, "plan.json");
  writeFileSync(
    plan,
    JSON.stringify({
      trust: "./trust",
      clusters: [
        {
          name: "A",
          servers: [{ name: "A1", host: "127.0.0.1", client: 1, cluster: 2, gateway: 3, monitor: 4 }],
        },
      ],
    }),
  );

  it("--init creates 0600 trust material and refuses to overwrite it", () => {
    const first = veilnet("--plan", plan, "--init");
    expect(first.code).toBe(0);
    expect(statSync(join(dir, "trust/operator.seed")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "trust/servers/A1-key.pem")).mode & 0o777).toBe(0o600);
    const again = veilnet("--plan", plan, "--init");
    expect(again.code).toBe(1);
    expect(again.err).toContain("PKI_EXISTS");
  });

  it("--out writes one config per server, referencing the trust directory", async () => {
    const r = veilnet("--plan", plan, "--out", join(dir, "out"));
    expect(r.code).toBe(0);
    const conf = await Bun.file(join(dir, "out/A1.conf")).text();
    expect(conf).toContain(join(dir, "trust/servers/A1-key.pem"));
    expect(conf).not.toContain("PRIVATE KEY");
  });

  it("rejects unknown flags and a missing plan", () => {
    expect(veilnet("--plan", plan, "--out", dir, "--bogus").code).toBe(2);
    expect(veilnet("--plan", join(dir, "missing.json"), "--init").err).toContain("MASTER_PLAN_READ");
  });
});
