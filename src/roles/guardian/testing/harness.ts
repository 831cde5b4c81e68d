/**
 * Test harness: a Guardian (state, realms, HTTPS API, control link) in this process beside a real
 * nats-server, and nodes that enrol through the public client. Tests only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Identity } from "../../../anchor/identity.ts";
import { enrol, type GuardianEndpoint } from "../../../guardian-api/client.ts";
import { generateNodeKeys, type NodeKeys } from "../../../guardian-api/node-keys.ts";
import type { Credentials } from "../../../guardian-api/wire.ts";
import { createRealm, initState } from "../authority.ts";
import { type Daemon, startDaemon } from "../daemon.ts";
import { hashToken, newToken } from "../tokens.ts";
import { startTestNats, type TestNats } from "./nats-server.ts";

export interface Harness {
  readonly dir: string;
  readonly daemon: Daemon;
  readonly nats: TestNats | undefined;
  readonly endpoint: GuardianEndpoint;
  token(realm: string, o?: { uses?: number; ttlMs?: number; taints?: string[] }): string;
  enrolNode(realm: string, token?: string): Promise<{ keys: NodeKeys; creds: Credentials }>;
  stop(): Promise<void>;
}

export async function startHarness(o: {
  realms: string[];
  ttlMs?: number;
  nats?: boolean;
}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "vn-guardian-"));
  const state = join(dir, "state");
  await initState(state, { operatorName: "test", apiDnsNames: ["localhost"], apiIpAddresses: ["127.0.0.1"] });
  let nats: TestNats | undefined;
  if (o.nats !== false) {
    const { loadTrust } = await import("../../../pki/index.ts");
    nats = await startTestNats(await loadTrust(join(state, "trust")), join(dir, "nats"));
  }
  const daemon = await startDaemon({
    state,
    hostname: "127.0.0.1",
    port: 0,
    policy: { ttlMs: o.ttlMs ?? 3_600_000, masters: nats ? [nats.url] : [] },
    log: () => undefined,
  });
  for (const r of o.realms) {
    createRealm(daemon.authority, r, "test");
    await daemon.link?.pushRealm(r);
  }
  const endpoint = {
    url: `https://127.0.0.1:${daemon.server.port}`,
    caPem: daemon.authority.trust.ca.certPem,
  };
  const h: Harness = {
    dir,
    daemon,
    nats,
    endpoint,
    token(realm, t = {}) {
      const token = newToken();
      daemon.authority.store.createToken(
        {
          hash: hashToken(token),
          realm,
          taints: t.taints ?? [],
          maxUses: t.uses ?? 1,
          expiresAt: Date.now() + (t.ttlMs ?? 600_000),
          label: "",
        },
        "test",
        Date.now(),
      );
      return token;
    },
    async enrolNode(realm, token) {
      const keys = await generateNodeKeys(Identity.generate());
      const creds = await enrol(endpoint, { token: token ?? h.token(realm), realm, keys });
      return { keys, creds };
    },
    async stop() {
      await daemon.stop();
      await nats?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}
