/** Writes every server's configuration (and its resolver/log/run directories) for a plan. */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { loadTrust } from "../../pki/index.ts";
import { MasterError } from "./errors.ts";
import { allServers, type Plan } from "./plan.ts";
import { renderServerConfig, serverLayout } from "./server-config.ts";

export interface WrittenConfig {
  readonly server: string;
  readonly path: string;
}

/**
 * Loads and checks the trust directory, then writes `<out>/<server>.conf` for every server
 * (atomically, by rename). Configs hold no secrets (keys are referenced by path) but are 0600 anyway.
 */
export async function writeServerConfigs(plan: Plan, outDir: string): Promise<WrittenConfig[]> {
  const trust = await loadTrust(plan.trust);
  for (const s of allServers(plan)) {
    const cert = trust.paths.serverCert(s.name);
    if (!(await Bun.file(cert).exists())) {
      throw new MasterError(
        "MASTER_NO_CERT",
        `no TLS certificate for server ${s.name} (${cert}); run --init`,
      );
    }
  }
  const written: WrittenConfig[] = [];
  for (const s of allServers(plan)) {
    const layout = serverLayout(outDir, s.name);
    for (const d of [layout.resolverDir, dirname(layout.logFile), dirname(layout.pidFile)]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
    }
    const text = renderServerConfig(plan, s, outDir, {
      operatorJwtPath: trust.paths.operatorJwt,
      systemAccount: trust.systemAccount.publicKey,
      systemAccountJwt: trust.systemAccountJwt,
    });
    const tmp = `${layout.config}.tmp-${process.pid}`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, layout.config);
    written.push({ server: s.name, path: layout.config });
  }
  return written;
}
