/**
 * Integrity of the offload data path under damage: two fixed-key nodes (compiled like
 * dist/veilnet, TUN segmentation offload, UDP GSO/GRO, TCP coalescing) in two namespaces, with a
 * test-only forwarder between their UDP sockets that flips one bit in every 1000th sealed segment
 * (testing/bitflip-forwarder.c). 512 MiB go each way over TCP through the overlay; the sha256
 * must match, every damaged segment must be rejected and counted (dropRxBadTag) and the kernel
 * must never see a TCP checksum error (TcpInCsumErrors) — a wrongly spliced coalesced write would
 * show up as one, or as a sha256 mismatch.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { BUN, createNamespaces, isRoot, runPrefix, sh, vethPair } from "../../../ffi/testing/netns.ts";
import { compileNode } from "./testing/pair.ts";

const MIB = 512;
const SUBNET = 96;
const EVERY = 1000;
const dir = mkdtempSync(join(tmpdir(), "veilnet-dp-integrity-"));
const binary = join(dir, "fixed-key-node");
const shaFixture = new URL("./testing/tcp-sha.fixture.ts", import.meta.url).pathname;
const fwdFixture = new URL("./testing/bitflip-forwarder.fixture.ts", import.meta.url).pathname;

interface Proc {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly out: { text: string };
  readonly done: Promise<void>;
}
function spawn(cmd: string[]): Proc {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const out = { text: "" };
  const done = (async () => {
    for await (const chunk of proc.stdout) out.text += new TextDecoder().decode(chunk);
  })();
  return { proc, out, done };
}
async function line(p: Proc, prefix: string, ms: number): Promise<string> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const l = p.out.text.split("\n").find((x) => x.startsWith(prefix));
    if (l) return l;
    if (p.proc.exitCode !== null) break;
    await Bun.sleep(20);
  }
  throw new Error(`no '${prefix}': ${p.out.text} ${await new Response(p.proc.stderr).text()}`);
}
/** Tcp counters of a namespace from /proc/net/snmp. */
function tcpSnmp(ns: string): Record<string, number> {
  const rows = sh(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"])
    .split("\n")
    .filter((l) => l.startsWith("Tcp:"));
  const [names, values] = rows.map((r) => r.split(/\s+/).slice(1));
  return Object.fromEntries(names!.map((n, i) => [n, Number(values![i])]));
}

describe("offload integrity: 512 MiB each way through a bit-flipping forwarder (compiled nodes, netns)", () => {
  const p = runPrefix("vdpi");
  const nsA = `${p}a`;
  const nsB = `${p}b`;
  const a = `198.18.${SUBNET}.1`;
  const b = `198.18.${SUBNET}.2`;
  const overlayA = `100.64.${SUBNET}.1`;
  const overlayB = `100.64.${SUBNET}.2`;
  let cleanup = () => {};
  const procs: Proc[] = [];
  let nodeA: Proc;
  let nodeB: Proc;
  let fwd: Proc;
  const snmp0: Record<string, Record<string, number>> = {};
  const measured: Record<string, number> = {};

  beforeAll(async () => {
    expect(isRoot()).toBe(true);
    compileNode(binary);
    cleanup = createNamespaces([nsA, nsB]);
    vethPair({ ns: nsA, dev: `${p}x`, cidr: `${a}/24` }, { ns: nsB, dev: `${p}y`, cidr: `${b}/24` });
    // x: A's node → B's node; y: B's node → A's node.
    fwd = spawn([
      "ip",
      "netns",
      "exec",
      nsB,
      BUN,
      fwdFixture,
      "--every",
      String(EVERY),
      "--x",
      `${b}:51910=${b}:51900`,
      "--y",
      `${b}:51911=${a}:51900`,
    ]);
    procs.push(fwd);
    await line(fwd, "ready", 20_000);
    const node = (side: "a" | "b", ns: string, me: string, peer: string, tun: string) =>
      spawn([
        "ip",
        "netns",
        "exec",
        ns,
        binary,
        "--side",
        side,
        "--tun",
        tun,
        "--mtu",
        "1420",
        "--offload",
        "--overlay",
        `${side === "a" ? overlayA : overlayB}/24`,
        "--peer-overlay",
        side === "a" ? overlayB : overlayA,
        "--listen",
        `${me}:51900`,
        "--peer",
        peer,
      ]);
    nodeA = node("a", nsA, a, `${b}:51910`, "vfa0");
    nodeB = node("b", nsB, b, `${b}:51911`, "vfb0");
    procs.push(nodeA, nodeB);
    await line(nodeA, "ready ", 20_000);
    await line(nodeB, "ready ", 20_000);
    snmp0[nsA] = tcpSnmp(nsA);
    snmp0[nsB] = tcpSnmp(nsB);
  }, 90_000);

  afterAll(async () => {
    for (const x of procs) {
      x.proc.kill("SIGTERM");
      await Promise.race([x.done, Bun.sleep(5000)]);
      x.proc.kill("SIGKILL");
    }
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function transfer(fromNs: string, toNs: string, toIp: string, port: number) {
    const server = spawn(["ip", "netns", "exec", toNs, BUN, shaFixture, "serve", toIp, String(port)]);
    procs.push(server);
    await line(server, "listening", 10_000);
    const t0 = performance.now();
    const client = spawn([
      "ip",
      "netns",
      "exec",
      fromNs,
      BUN,
      shaFixture,
      "send",
      toIp,
      String(port),
      String(MIB),
    ]);
    procs.push(client);
    const sent = await line(client, "sha256 ", 50_000);
    const got = await line(server, "sha256 ", 10_000);
    const seconds = (performance.now() - t0) / 1000;
    return { sent, got, mbps: (MIB * 8 * 1.048576) / seconds };
  }

  it("carries 512 MiB A → B byte-exact", async () => {
    const r = await transfer(nsA, nsB, overlayB, 5301);
    measured.abMbps = r.mbps;
    expect(r.got).toBe(r.sent);
    expect(r.sent).toEndWith(` ${MIB * 1024 * 1024}`);
  }, 60_000);

  it("carries 512 MiB B → A byte-exact", async () => {
    const r = await transfer(nsB, nsA, overlayA, 5302);
    measured.baMbps = r.mbps;
    expect(r.got).toBe(r.sent);
    expect(r.sent).toEndWith(` ${MIB * 1024 * 1024}`);
  }, 60_000);

  it("rejects and counts every damaged segment; the kernel sees no TCP checksum error", async () => {
    const snmpA = tcpSnmp(nsA);
    const snmpB = tcpSnmp(nsB);
    const counters: Record<string, Record<string, number>> = {};
    for (const [name, x] of [
      ["a", nodeA],
      ["b", nodeB],
    ] as const) {
      x.proc.kill("SIGTERM");
      counters[name] = JSON.parse((await line(x, "counters ", 10_000)).slice("counters ".length));
    }
    fwd.proc.kill("SIGTERM");
    const f = JSON.parse((await line(fwd, "forwarder ", 10_000)).slice("forwarder ".length));
    const ca = counters.a!;
    const cb = counters.b!;
    console.log(
      JSON.stringify({
        ...measured,
        forwarder: f,
        badTagAtB: cb.dropRxBadTag,
        badTagAtA: ca.dropRxBadTag,
        coalescedWritesB: cb.rxCoalescedWrites,
        groBatchesB: cb.rxGroBatches,
        gsoMessagesA: ca.txGsoMessages,
        retransA: snmpA.RetransSegs! - snmp0[nsA]!.RetransSegs!,
        retransB: snmpB.RetransSegs! - snmp0[nsB]!.RetransSegs!,
        inCsumErrorsA: snmpA.InCsumErrors! - snmp0[nsA]!.InCsumErrors!,
        inCsumErrorsB: snmpB.InCsumErrors! - snmp0[nsB]!.InCsumErrors!,
      }),
    );
    // Every 1000th sealed segment was damaged, in each direction…
    expect(f.x.flipped).toBeGreaterThanOrEqual(300);
    expect(f.y.flipped).toBeGreaterThanOrEqual(300);
    expect(f.x.flipped).toBeLessThanOrEqual(Math.floor(f.x.segments / EVERY));
    expect(f.x.sendErrors + f.y.sendErrors).toBe(0);
    // …and each one was rejected by the AEAD and counted exactly once.
    expect(cb.dropRxBadTag).toBe(f.x.flipped);
    expect(ca.dropRxBadTag).toBe(f.y.flipped);
    for (const c of [ca, cb]) {
      expect(c.dropRxReplay).toBe(0);
      expect(c.dropRxMalformedInner).toBe(0);
      expect(c.dropRxSpoofed).toBe(0);
    }
    // The offload path was the one exercised: GSO sends, GRO batches, coalesced TUN writes.
    expect(ca.txGsoMessages).toBeGreaterThan(1000);
    expect(cb.rxGroBatches).toBeGreaterThan(1000);
    expect(cb.rxCoalescedWrites).toBeGreaterThan(1000);
    // TCP recovered by retransmitting, and no bad checksum ever reached the kernel's TCP.
    expect(snmpA.RetransSegs! - snmp0[nsA]!.RetransSegs!).toBeGreaterThan(0);
    expect(snmpA.InCsumErrors! - snmp0[nsA]!.InCsumErrors!).toBe(0);
    expect(snmpB.InCsumErrors! - snmp0[nsB]!.InCsumErrors!).toBe(0);
  }, 30_000);
});
