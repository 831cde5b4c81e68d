/**
 * Test support: two network namespaces joined by a veth (198.18.x.1/.2), each running a
 * fixed-key data-plane node (100.64.x.1/.2 on a TUN). Always call `down()`.
 */
import type { Subprocess } from "bun";
import { createNamespaces, runPrefix, sh, vethPair } from "../../../../ffi/testing/netns.ts";

export interface Pair {
  readonly nsA: string;
  readonly nsB: string;
  readonly overlayA: string;
  readonly overlayB: string;
  readonly overlay6A: string;
  readonly overlay6B: string;
  /** SIGTERMs both nodes, returns their final counters, deletes the namespaces. */
  down(): Promise<{ a: Record<string, number> | null; b: Record<string, number> | null }>;
}

interface Node {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly out: { text: string };
  readonly done: Promise<void>;
}

function spawnNode(cmd: string[]): Node {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const out = { text: "" };
  const done = (async () => {
    for await (const chunk of proc.stdout) out.text += new TextDecoder().decode(chunk);
  })();
  return { proc, out, done };
}

async function waitLine(node: Node, prefix: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const line = node.out.text.split("\n").find((l) => l.startsWith(prefix));
    if (line) return line;
    if (node.proc.exitCode !== null) break;
    await Bun.sleep(20);
  }
  throw new Error(
    `no '${prefix}' line from node: ${node.out.text} ${await new Response(node.proc.stderr).text()}`,
  );
}

/** `node` is the command that runs fixed-key-node (a compiled binary or `bun file.ts`). */
/** `extra` holds flags for both nodes, or per side (`{ a, b }`) to mix configurations. */
/** `underlayMtu` sets the veth's MTU before the nodes start (for nodes that derive theirs). */
export async function startPair(
  node: string[],
  subnet: number,
  mtu: number | "auto" = 1420,
  extra: string[] | { a: string[]; b: string[] } = [],
  underlayMtu?: number,
): Promise<Pair> {
  const p = runPrefix("vdp");
  const nsA = `${p}a`;
  const nsB = `${p}b`;
  const cleanup = createNamespaces([nsA, nsB]);
  const procs: Node[] = [];
  const overlayA = `100.64.${subnet}.1`;
  const overlayB = `100.64.${subnet}.2`;
  const down: Pair["down"] = async () => {
    const out: { a: Record<string, number> | null; b: Record<string, number> | null } = { a: null, b: null };
    for (const [i, node] of procs.entries()) {
      node.proc.kill("SIGTERM");
      await Promise.race([node.done, Bun.sleep(5000)]);
      node.proc.kill("SIGKILL");
      const line = node.out.text.split("\n").find((l) => l.startsWith("counters "));
      const parsed = line ? (JSON.parse(line.slice("counters ".length)) as Record<string, number>) : null;
      if (i === 0) out.a = parsed;
      else out.b = parsed;
    }
    cleanup();
    return out;
  };
  try {
    vethPair(
      { ns: nsA, dev: `${p}x`, cidr: `198.18.${subnet}.1/24` },
      { ns: nsB, dev: `${p}y`, cidr: `198.18.${subnet}.2/24` },
    );
    if (underlayMtu !== undefined) {
      sh(["ip", "-n", nsA, "link", "set", `${p}x`, "mtu", String(underlayMtu)]);
      sh(["ip", "-n", nsB, "link", "set", `${p}y`, "mtu", String(underlayMtu)]);
    }
    for (const side of ["a", "b"] as const) {
      const [me, peer, ns] = side === "a" ? [1, 2, nsA] : [2, 1, nsB];
      const args = [
        "--side",
        side,
        "--tun",
        `vt${side}0`,
        "--mtu",
        String(mtu),
        "--overlay",
        `100.64.${subnet}.${me}/24`,
        "--peer-overlay",
        `100.64.${subnet}.${peer}`,
        "--overlay6",
        `fd5e:d9:${subnet}::${me}/64`,
        "--peer-overlay6",
        `fd5e:d9:${subnet}::${peer}`,
        "--listen",
        `198.18.${subnet}.${me}:51900`,
        "--peer",
        `198.18.${subnet}.${peer}:51900`,
      ];
      const flags = Array.isArray(extra) ? extra : extra[side];
      procs.push(spawnNode(["ip", "netns", "exec", ns, ...node, ...args, ...flags]));
    }
    for (const n of procs) await waitLine(n, "ready ", 20_000);
  } catch (e) {
    for (const n of procs) n.proc.kill("SIGKILL");
    cleanup();
    throw e;
  }
  return {
    nsA,
    nsB,
    overlayA,
    overlayB,
    overlay6A: `fd5e:d9:${subnet}::1`,
    overlay6B: `fd5e:d9:${subnet}::2`,
    down,
  };
}

/**
 * Compiles fixed-key-node the way compile.sh builds `dist/veilnet`. The tiny `src/errors.ts`
 * entry makes `src/` the bundle root, the same layout as `dist/veilnet`.
 */
export function compileNode(outfile: string): void {
  const dir = new URL("..", import.meta.url).pathname;
  const src = new URL("../../../../", import.meta.url).pathname;
  sh([
    process.execPath,
    "build",
    "--compile",
    `${dir}fixed-key-node.ts`,
    `${src}errors.ts`,
    "--outfile",
    outfile,
  ]);
}
