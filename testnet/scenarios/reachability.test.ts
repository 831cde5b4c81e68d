/** Underlay reachability of the built-in topologies: who can reach whom, and who cannot. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Mesh } from "../mesh.ts";
import { isRoot, waitForLine } from "./_root.ts";

const TCP = join(import.meta.dir, "_tcp.ts");
const PUNCH = join(import.meta.dir, "_punch.ts");
const BUN = process.execPath;
setDefaultTimeout(30_000);

describe.skipIf(!isRoot)("line5", () => {
  let net: Mesh;
  beforeAll(async () => {
    net = await Mesh.up({ topology: "line5" });
  });
  afterAll(async () => {
    await net?.destroy();
  });

  const ping = (from: string, to: string) => net.exec(from, ["ping", "-c1", "-W1", to]);

  test("neighbours reach each other", async () => {
    for (const [a, b] of [
      ["h1", "h2"],
      ["h2", "h3"],
      ["h3", "h4"],
      ["h4", "h5"],
      ["h5", "h4"],
    ] as const) {
      const r = await ping(a, net.addressOf(b, a));
      expect({ a, b, code: r.code }).toEqual({ a, b, code: 0 });
    }
  });

  test("h1 cannot reach h5 (or h3) on the underlay: no route, no forwarding", async () => {
    expect((await ping("h1", net.addressOf("h5", "h4"))).code).not.toBe(0);
    expect((await ping("h1", net.addressOf("h3", "h2"))).code).not.toBe(0);
    // Even with an explicit route via h2, h2 does not forward.
    await net.exec("h1", ["ip", "route", "add", net.addressOf("h3", "h2"), "via", net.addressOf("h2", "h1")]);
    expect((await ping("h1", net.addressOf("h3", "h2"))).code).not.toBe(0);
  });

  test("hosts expose their namespace and addresses", () => {
    expect(net.hosts.h1!.netns).toBe(`${net.prefix}-h1`);
    expect(net.hosts.h3!.addresses).toEqual([net.addressOf("h3", "h2"), net.addressOf("h3", "h4")]);
  });
});

describe.skipIf(!isRoot)("nat4", () => {
  let net: Mesh;
  beforeAll(async () => {
    net = await Mesh.up({ topology: "nat4" });
  });
  afterAll(async () => {
    await net?.destroy();
  });

  const connect = (from: string, host: string, port: number, ms = 1500) =>
    net.exec(from, [BUN, TCP, "connect", host, String(port), String(ms)]);

  test("a NATed host reaches the control host, which sees the router's public address", async () => {
    const listener = net.spawn("control", [BUN, TCP, "listen", "7000"]);
    await waitForLine(listener.stdout, "listening");
    const r = await connect("h1", net.addressOf("control", "r1"), 7000);
    expect(r.stdout.trim()).toBe("hello");
    expect(r.code).toBe(0);
    const seen = await waitForLine(listener.stdout, "peer ");
    expect(seen).toContain(`peer ${net.addressOf("r1", "control")}`);
    await listener.stop();
    expect((await net.exec("h3", ["ping", "-c1", "-W1", net.addressOf("control", "r2")])).code).toBe(0);
  });

  test("NATed hosts reach the other router's public address, not the hosts behind it", async () => {
    expect((await net.exec("h1", ["ping", "-c1", "-W1", net.addressOf("r2", "control")])).code).toBe(0);
    expect((await net.exec("h1", ["ping", "-c1", "-W1", net.addressOf("h3", "r2")])).code).not.toBe(0);
  });

  test("hosts behind different NATs punch a UDP hole; control gets nothing through", async () => {
    const punch = (from: string, peer: string, ms: number) =>
      net.exec(from, [BUN, PUNCH, "41000", peer, "41000", String(ms)]);
    const [a, b] = await Promise.all([
      punch("h1", net.addressOf("r2", "control"), 1500),
      punch("h3", net.addressOf("r1", "control"), 1500),
    ]);
    expect(a.stdout).toContain(`got hello-from-h3 from ${net.addressOf("r2", "control")}:41000`);
    expect(b.stdout).toContain(`got hello-from-h1 from ${net.addressOf("r1", "control")}:41000`);
    const listener = net.spawn("h1", [BUN, PUNCH, "41001", net.addressOf("h2", "h1"), "9", "1500"]);
    const probe = await punch("control", net.addressOf("r1", "control"), 800);
    expect(probe.code).toBe(1);
    expect(await listener.exited).toBe(1);
  });

  test("the control host cannot open a connection into a NATed host", async () => {
    const listener = net.spawn("h1", [BUN, TCP, "listen", "7001"]);
    await waitForLine(listener.stdout, "listening");
    // The listener works: a host on the same LAN connects.
    const lan = await connect("h2", net.addressOf("h1", "h2"), 7001);
    expect(lan.code).toBe(0);
    const toPrivate = await connect("control", net.addressOf("h1", "r1"), 7001);
    expect(toPrivate.code).not.toBe(0);
    const toRouter = await connect("control", net.addressOf("r1", "control"), 7001);
    expect(toRouter.code).not.toBe(0);
    expect(toRouter.stdout).toContain("timeout");
    await listener.stop();
  });
});
