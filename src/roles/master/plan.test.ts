import { describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
import { clientUrls, DEFAULT_LIMITS, parsePlan } from "./plan.ts";
import { renderServerConfig } from "./server-config.ts";

const server = (name: string, base: number, host = "127.0.0.1") => ({
  name,
  host,
  client: base,
  cluster: base + 1,
  gateway: base + 2,
  monitor: base + 3,
});
const good = {
  operator: "op",
  trust: "./trust",
  clusters: [
    { name: "A", servers: [server("A1", 14000), server("A2", 14010)] },
    { name: "B", servers: [server("B1", 14020, "::1")] },
  ],
};

function code(raw: unknown): string | undefined {
  try {
    parsePlan(raw, "/tmp");
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe("master plan", () => {
  it("parses a plan, resolving trust against the plan's directory", () => {
    const p = parsePlan(good, "/srv/veilnet");
    expect(p.trust).toBe("/srv/veilnet/trust");
    expect(p.limits).toEqual(DEFAULT_LIMITS);
    expect(clientUrls(p)).toEqual(["tls://127.0.0.1:14000", "tls://127.0.0.1:14010", "tls://[::1]:14020"]);
  });

  it("rejects hostile or inconsistent plans", () => {
    const bad = (f: (p: typeof good & Record<string, unknown>) => void) => {
      const p = structuredClone(good) as typeof good & Record<string, unknown>;
      f(p);
      return code(p);
    };
    expect(code(null)).toBe("MASTER_PLAN_INVALID");
    expect(bad((p) => (p.clusters[0]!.name = 'A"; include /etc/passwd'))).toBe("MASTER_PLAN_INVALID");
    expect(bad((p) => (p.trust = 'x"\ny'))).toBe("MASTER_PLAN_INVALID");
    expect(bad((p) => (p.clusters[1]!.servers[0]!.name = "A1"))).toBe("MASTER_PLAN_INVALID");
    expect(bad((p) => (p.clusters[0]!.servers[1]!.client = 14001))).toBe("MASTER_PLAN_INVALID");
    expect(bad((p) => (p.clusters[0]!.servers[0]!.client = 70000))).toBe("MASTER_PLAN_INVALID");
    expect(bad((p) => (p.clusters[0]!.servers[0]!.host = "bad host"))).toBe("MASTER_PLAN_INVALID");
    expect(bad((p) => (p.limits = { maxPayload: 1 }))).toBe("MASTER_PLAN_INVALID");
    expect(bad((p) => (p.limits = { unknown: 1 }))).toBe("MASTER_PLAN_INVALID");
    expect(bad((p) => (p.clusters = []))).toBe("MASTER_PLAN_INVALID");
  });

  it("renders a configuration nats-server accepts, with routes, gateways and TLS verify everywhere", () => {
    const dir = mkdtempSync(join(tmpdir(), "veilnet-plan-"));
    try {
      const p = parsePlan(good, dir);
      for (const f of ["ca.pem", "servers/A1.pem", "servers/A1-key.pem"]) {
        // nats-server -t checks syntax, not certificate contents
        Bun.spawnSync(["mkdir", "-p", join(dir, "trust/servers")]);
        writeFileSync(join(dir, "trust", f), "");
      }
      writeFileSync(join(dir, "trust/operator.jwt"), "");
      const text = renderServerConfig(p, p.clusters[0]!.servers[0]!, join(dir, "out"), {
        operatorJwtPath: join(dir, "trust/operator.jwt"),
        systemAccount: "ABC",
        systemAccountJwt: "x.y.z",
      });
      expect(text).toContain('routes: ["nats-route://127.0.0.1:14011"]');
      expect(text).toContain('{ name: "B", urls: ["tls://[::1]:14022"] }');
      expect(text.match(/verify: true/g)?.length).toBe(3);
      expect(text).toContain("type: full");
      expect(text).toContain("allow_delete: false");
      expect(text).toContain("max_payload: 262144");
      const conf = join(dir, "A1.conf");
      writeFileSync(
        conf,
        text
          .replace(/^operator:.*$/m, "")
          .replace(/^system_account:.*$/m, "")
          .replace(/resolver \{[\s\S]*?\n\}\nresolver_preload \{[\s\S]*?\n\}\n/, "")
          .replace(/tls \{[\s\S]*?\n\s*\}\n/g, ""),
      );
      const t = Bun.spawnSync(["nats-server", "-t", "-c", conf]);
      expect(t.stderr.toString() + t.stdout.toString()).toContain("is valid");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("backs off exponentially with jitter, capped", () => {
    expect(backoffDelay(DEFAULT_BACKOFF, 0, () => 0)).toBe(125);
    expect(backoffDelay(DEFAULT_BACKOFF, 0, () => 0.999)).toBeLessThanOrEqual(250);
    expect(backoffDelay(DEFAULT_BACKOFF, 3, () => 0)).toBe(1000);
    expect(backoffDelay(DEFAULT_BACKOFF, 50, () => 0.999)).toBeLessThanOrEqual(30_000);
  });
});
