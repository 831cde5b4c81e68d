/**
 * Test fixture: one real nats-server (2.9.10) in operator mode with the full resolver and mTLS
 * (`verify: true`), trusting the Guardian's trust directory. The same settings Master generates for
 * a super cluster, reduced to one server on loopback. Tests only.
 */

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { type Subprocess, spawn } from "bun";
import { issueServerFiles, type Trust } from "../../../pki/index.ts";

export interface TestNats {
  readonly url: string;
  readonly port: number;
  readonly proc: Subprocess;
  readonly logFile: string;
  stop(): Promise<void>;
}

export async function startTestNats(trust: Trust, dir: string, name = "test-nats"): Promise<TestNats> {
  mkdirSync(join(dir, "jwt"), { recursive: true });
  await issueServerFiles(trust, {
    name,
    commonName: name,
    ipAddresses: ["127.0.0.1"],
    dnsNames: ["localhost"],
  });
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const logFile = join(dir, `${name}-${port}.log`);
    const conf = join(dir, `${name}.conf`);
    writeFileSync(
      conf,
      `server_name: ${JSON.stringify(name)}
listen: "127.0.0.1:${port}"
log_file: ${JSON.stringify(logFile)}
operator: ${JSON.stringify(trust.paths.operatorJwt)}
system_account: ${JSON.stringify(trust.systemAccount.publicKey)}
resolver { type: full, dir: ${JSON.stringify(join(dir, "jwt"))}, allow_delete: false, interval: "2m", timeout: "1.9s" }
resolver_preload { ${trust.systemAccount.publicKey}: ${JSON.stringify(trust.systemAccountJwt)} }
tls {
  cert_file: ${JSON.stringify(trust.paths.serverCert(name))}
  key_file: ${JSON.stringify(trust.paths.serverKey(name))}
  ca_file: ${JSON.stringify(trust.paths.caCert)}
  verify: true
  timeout: 3
}
`,
    );
    const proc = spawn(["nats-server", "-c", conf], { stdout: "ignore", stderr: "ignore" });
    if (await waitForPort(port, 5_000, proc)) {
      return {
        url: `tls://127.0.0.1:${port}`,
        port,
        proc,
        logFile,
        async stop() {
          proc.kill("SIGTERM");
          await proc.exited;
        },
      };
    }
    proc.kill("SIGKILL");
    await proc.exited;
  }
  throw new Error("nats-server did not start");
}

/** The server log (for asserting on disconnect reasons). */
export function natsLog(n: TestNats): string {
  try {
    return readFileSync(n.logFile, "utf8");
  } catch {
    return "";
  }
}

async function waitForPort(port: number, timeoutMs: number, proc: Subprocess): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return true;
    await Bun.sleep(50);
  }
  return false;
}
