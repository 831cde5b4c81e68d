/**
 * A deployment for embedded-mode tests and the stream bench: one segment with `control` (Master +
 * Guardian), TUN-mode nodes, and host `e1` running `veilnet proxy` — an embedded node — as the
 * unprivileged user nobody (65534) with its own state directory. Every process is started through
 * the Mesh, so `destroy()` ends them by PID together with the namespaces.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DemoMesh, waitFor } from "../../../../../testnet/demo/demo-mesh.ts";
import { Mesh } from "../../../../../testnet/mesh.ts";
import type { MeshProcess } from "../../../../../testnet/procs.ts";

export const NOBODY = 65534;
const ROOT = resolve(import.meta.dir, "../../../../..");
export const BUN = process.execPath;
export const CLI = join(ROOT, "src", "cli.ts");
export const TOOLS = join(import.meta.dir, "net-tools.fixture.ts");
export const EMBEDDED_HOST = "e1";

export interface EmbeddedDeployment {
  readonly mesh: Mesh;
  readonly demo: DemoMesh;
  /** Overlay IPv4 of each TUN host. */
  readonly ips: Map<string, string>;
  proxy: MeshProcess;
  readonly proxyLog: string;
  embeddedIp: string;
  readonly stateDir: string;
  /** `[bun, net-tools]` copied where nobody can read them (the checkout may be 0700). */
  readonly tools: readonly string[];
  destroy(failed?: boolean): Promise<void>;
}

export interface EmbeddedDeployOptions {
  readonly tunHosts: readonly string[];
  /** `veilnet proxy` arguments after the enrolment flags (mappings, --expose …). */
  readonly proxyArgs: (ips: Map<string, string>) => string[];
  readonly log?: (line: string) => void;
}

/** Runs argv as nobody (no groups), as an unprivileged application would run. */
export function asNobody(argv: readonly string[]): string[] {
  return ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...argv];
}

export async function deployEmbedded(o: EmbeddedDeployOptions): Promise<EmbeddedDeployment> {
  const log = o.log ?? (() => {});
  const hosts = ["control", ...o.tunHosts, EMBEDDED_HOST];
  const mesh = await Mesh.up({
    topology: { hosts, segments: [{ name: "lan", members: hosts }] },
  });
  let demo: DemoMesh | undefined;
  const stateParent = mkdtempSync(join(tmpdir(), "veilnet-embedded-"));
  try {
    demo = await DemoMesh.start(mesh, {
      veilnet: [BUN, CLI],
      controlHost: "control",
      nodeHosts: [...o.tunHosts],
      log,
    });
    const ips = new Map<string, string>();
    await waitFor("TUN nodes to enrol", 90_000, async () => {
      for (const h of o.tunHosts) {
        const s = await demo!.localStatus(h);
        if (!s) return false;
        ips.set(h, String(s.ipv4));
      }
      return true;
    });
    // The embedded node's files belong to nobody: state directory (0700) and Guardian's CA.
    chmodSync(stateParent, 0o755);
    const stateDir = join(stateParent, "state");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(stateDir, { mode: 0o700 });
    chownSync(stateDir, NOBODY, NOBODY);
    const ca = join(stateParent, "ca.pem");
    copyFileSync(join(demo.dir, "trust", "ca.pem"), ca);
    chmodSync(ca, 0o644);
    const proxyLog = join(stateParent, "proxy.log");
    // nobody may not be able to read the checkout (a clone made by root is often 0700): run a copy
    // of the compiled executable from the world-readable state parent, as an application would.
    const binary = join(ROOT, "dist", "veilnet");
    let veilnet = [BUN, CLI];
    if (existsSync(binary)) {
      const copy = join(stateParent, "veilnet");
      copyFileSync(binary, copy);
      chmodSync(copy, 0o755);
      veilnet = [copy];
    }
    const tools = [join(stateParent, "bun"), join(stateParent, "net-tools.ts")];
    copyFileSync(BUN, tools[0]!);
    chmodSync(tools[0]!, 0o755);
    copyFileSync(TOOLS, tools[1]!);
    chmodSync(tools[1]!, 0o644);
    const proxy = mesh.spawn(
      EMBEDDED_HOST,
      asNobody([
        ...veilnet,
        "proxy",
        "--state",
        stateDir,
        "--guardian",
        `https://${demo.controlIp}:7443`,
        "--token",
        demo.token,
        "--realm",
        "demo",
        "--guardian-ca",
        ca,
        ...o.proxyArgs(ips),
      ]),
      {
        logFile: proxyLog,
        cwd: stateParent,
        env: { HOME: stateParent, BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
      },
    );
    let embeddedIp = "";
    await waitFor("the embedded node to enrol", 90_000, async () => {
      const m = /embedded node [0-9a-f]+ at ([\d.]+) ready/.exec(readText(proxyLog));
      if (m) embeddedIp = m[1]!;
      return embeddedIp !== "";
    });
    const d: EmbeddedDeployment = {
      mesh,
      demo,
      ips,
      proxy,
      proxyLog,
      embeddedIp,
      stateDir,
      tools,
      destroy: async (failed = false) => {
        if (failed) {
          console.error(`--- proxy.log ---\n${readText(proxyLog).split("\n").slice(-30).join("\n")}`);
          for (const h of o.tunHosts) {
            console.error(
              `--- ${h}.log ---\n${readText(demo!.logPath(h)).split("\n").slice(-15).join("\n")}`,
            );
          }
        }
        await mesh.destroy();
        demo!.cleanupFiles();
        rmSync(stateParent, { recursive: true, force: true });
      },
    };
    return d;
  } catch (err) {
    console.error(`--- proxy.log ---\n${readText(join(stateParent, "proxy.log"))}`);
    await mesh.destroy();
    demo?.cleanupFiles();
    rmSync(stateParent, { recursive: true, force: true });
    throw err;
  }
}

export function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The uid and RSS (KiB) of a process. */
export function procInfo(pid: number): { uid: number; rssKiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  return {
    uid: Number(/^Uid:\s+(\d+)/m.exec(s)?.[1] ?? -1),
    rssKiB: Number(/^VmRSS:\s+(\d+) kB/m.exec(s)?.[1] ?? 0),
  };
}
