/**
 * A run leaves nothing behind: `down`/`destroy()` remove every namespace, interface and process
 * it made, and a run whose owner died (SIGKILL mid-way) is cleaned by the next `up`.
 * Other runs may exist on the machine at the same time, so every check is limited to our prefix.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Mesh } from "../mesh.ts";
import { randomPrefix } from "../names.ts";
import { run } from "../run.ts";
import { runDir } from "../state.ts";
import { isRoot, waitForLine } from "./_root.ts";

setDefaultTimeout(40_000);
const BUN = process.execPath;
const MESH_SH = join(import.meta.dir, "..", "mesh.sh");

async function leftovers(prefix: string): Promise<{ netns: string[]; links: string[]; procs: string[] }> {
  const netns = (await run(["ip", "netns", "list"])).stdout
    .split("\n")
    .filter((l) => l.startsWith(`${prefix}-`));
  const links = (await run(["ip", "-o", "link", "show"])).stdout
    .split("\n")
    .filter((l) => l.includes(`${prefix}-`));
  const ps = await run(["ps", "-eo", "pid,args"]);
  const procs = ps.stdout.split("\n").filter((l) => l.includes(`--tap ${prefix}-`));
  return { netns, links, procs };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !require("node:fs").readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z");
  } catch {
    return false;
  }
}

async function waitDead(pid: number, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid) && Date.now() < end) await Bun.sleep(20);
  return !alive(pid);
}

describe.skipIf(!isRoot)("lifecycle", () => {
  test("destroy() leaves no namespace, veth or process behind", async () => {
    const prefix = randomPrefix();
    const before = await leftovers(prefix);
    const net = await Mesh.up({ topology: "ring6", prefix });
    const sleeper = net.spawn("h3", ["sh", "-c", "sleep 600 & sleep 600; wait"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    await net.link("h1", "h2").delay(20);
    await net.link("h2", "h3").rate(50);
    await net.link("h3", "h4").loss(5);
    const during = await leftovers(prefix);
    expect(during.netns).toHaveLength(6);
    expect(during.procs).toHaveLength(2);
    expect(during.links).toEqual([]); // veths only ever exist inside the run's namespaces
    const report = await net.destroy();
    expect(report.foreign).toEqual([]);
    expect(await waitDead(sleeper.pid)).toBe(true);
    expect(await leftovers(prefix)).toEqual(before);
    expect(existsSync(runDir(prefix))).toBe(false);
    expect(await net.destroy()).toEqual({ namespaces: [], stopped: 0, foreign: [] });
  });

  test("a run whose owner was SIGKILLed is cleaned by the next up with the same prefix", async () => {
    const prefix = randomPrefix();
    const child = Bun.spawn([BUN, join(import.meta.dir, "_crash-child.ts"), prefix], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const line = await waitForLine(child.stdout, "ready ", 20_000);
    const sleeperPid = Number(/ready (\d+)/.exec(line)?.[1]);
    child.kill("SIGKILL");
    await child.exited;
    // The crash left everything behind.
    const stale = await leftovers(prefix);
    expect(stale.netns).toHaveLength(2);
    expect(stale.procs).toHaveLength(2);
    expect(alive(sleeperPid)).toBe(true);
    const net = await Mesh.up({ topology: "line5", prefix });
    try {
      expect(await waitDead(sleeperPid)).toBe(true);
      const now = await leftovers(prefix);
      expect(now.procs).toEqual([]);
      expect(now.netns).toHaveLength(5);
      expect((await net.exec("h1", ["ping", "-c1", "-W1", net.addressOf("h2", "h1")])).code).toBe(0);
    } finally {
      await net.destroy();
    }
    expect(await leftovers(prefix)).toEqual({ netns: [], links: [], procs: [] });
  });

  test("SIGTERM to a process owning a run removes the run", async () => {
    const prefix = randomPrefix();
    const child = Bun.spawn([BUN, join(import.meta.dir, "_crash-child.ts"), prefix], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const line = await waitForLine(child.stdout, "ready ", 20_000);
    const sleeperPid = Number(/ready (\d+)/.exec(line)?.[1]);
    expect((await leftovers(prefix)).netns).toHaveLength(2);
    child.kill("SIGTERM");
    expect(await child.exited).toBe(143);
    expect(alive(sleeperPid)).toBe(false);
    expect(await leftovers(prefix)).toEqual({ netns: [], links: [], procs: [] });
    expect(existsSync(runDir(prefix))).toBe(false);
  });

  test("mesh.sh: up killed mid-way, up again, exec, each, then down from a new process", async () => {
    const prefix = randomPrefix();
    const sh = (args: string[], stdin?: string) =>
      run([MESH_SH, ...args], { check: false, ...(stdin !== undefined ? { stdin } : {}) });
    const builder = Bun.spawn([MESH_SH, "up", "--topology", "random:40", "--prefix", prefix], {
      stdout: "ignore",
      stderr: "ignore",
    });
    // Kill it while the namespaces are being made.
    const deadline = Date.now() + 15_000;
    while ((await leftovers(prefix)).netns.length === 0 && Date.now() < deadline) await Bun.sleep(2);
    builder.kill("SIGKILL");
    await builder.exited;
    const up = await sh(["up", "--topology", "line5", "--prefix", prefix]);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain(`prefix=${prefix}`);
    expect((await leftovers(prefix)).netns).toHaveLength(5);

    const cat = await sh(["exec", "--prefix", prefix, "h2", "sh", "-c", "cat; exit 7"], "through stdin");
    expect(cat.code).toBe(7);
    expect(cat.stdout).toBe("through stdin");
    const each = await sh(["each", "--prefix", prefix, "--", "sleep", "600"]);
    expect(each.code).toBe(0);
    const pids = [...each.stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(5);
    expect((await sh(["link", "--prefix", prefix, "h1", "h2", "delay", "10"])).code).toBe(0);
    const status = await sh(["status", "--prefix", prefix]);
    expect(status.stdout).toContain("+10ms rtt");
    expect(status.stdout).toMatch(/h5 +host +\S+-h5 +\S+-3b +198\.19\.0\.14\/30/);

    const down = await sh(["down", "--prefix", prefix]);
    expect(down.code).toBe(0);
    for (const pid of pids) expect(await waitDead(pid)).toBe(true);
    expect(await leftovers(prefix)).toEqual({ netns: [], links: [], procs: [] });
    expect(existsSync(runDir(prefix))).toBe(false);
  });
});
