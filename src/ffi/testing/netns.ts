/** Test support: throw-away network namespaces driven through `ip` (tests only, never product code). */
import { randomBytes } from "node:crypto";

export const BUN = process.execPath;

/** A short unique prefix for namespaces/interfaces of one test run (≤ 8 chars). */
export function runPrefix(tag: string): string {
  return `${tag}${randomBytes(3).toString("hex")}`.slice(0, 8);
}

/** Runs a command synchronously; throws with its stderr on failure. */
export function sh(cmd: string[], opts: { allowFail?: boolean } = {}): string {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0 && !opts.allowFail) {
    throw new Error(`${cmd.join(" ")} → ${r.exitCode}: ${r.stderr.toString()}`);
  }
  return r.stdout.toString();
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Creates namespaces, returns a cleanup function that deletes them (idempotent). */
export function createNamespaces(names: string[]): () => void {
  const made: string[] = [];
  const cleanup = () => {
    for (const n of made.splice(0)) sh(["ip", "netns", "del", n], { allowFail: true });
  };
  try {
    for (const n of names) {
      sh(["ip", "netns", "add", n]);
      made.push(n);
      sh(["ip", "-n", n, "link", "set", "lo", "up"]);
    }
  } catch (e) {
    cleanup();
    throw e;
  }
  return cleanup;
}

/** Joins two namespaces with a veth pair and gives each end an IPv4 address. */
export function vethPair(
  a: { ns: string; dev: string; cidr: string },
  b: { ns: string; dev: string; cidr: string },
) {
  sh(["ip", "link", "add", a.dev, "netns", a.ns, "type", "veth", "peer", "name", b.dev, "netns", b.ns]);
  for (const e of [a, b]) {
    sh(["ip", "-n", e.ns, "addr", "add", e.cidr, "dev", e.dev]);
    sh(["ip", "-n", e.ns, "link", "set", e.dev, "up"]);
  }
}
