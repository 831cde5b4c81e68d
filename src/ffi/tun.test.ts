import { afterAll, describe, expect, it } from "bun:test";
import { parseIPv4, parseIPv6 } from "./inet.ts";
import { BUN, createNamespaces, isRoot, runPrefix, sh } from "./testing/netns.ts";
import { openTun } from "./tun.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("TUN + rtnetlink in a fresh network namespace", () => {
  const ns = runPrefix("vtun");
  let cleanup = () => {};
  afterAll(() => cleanup());

  it("answers ICMP and ICMPv6 echo through the TUN, and adds routes", () => {
    expect(isRoot()).toBe(true);
    cleanup = createNamespaces([ns]);
    const fixture = new URL("./testing/tun-echo.fixture.ts", import.meta.url).pathname;
    const out = sh([
      "ip",
      "netns",
      "exec",
      ns,
      BUN,
      fixture,
      "vt%d",
      "100.64.77.1/24",
      "fd5e:a11:77::1/64",
      "100.64.77.2",
      "fd5e:a11:77::2",
      "100.65.12.0/24",
      "fd5e:a11:78::/48",
    ]);
    const r = JSON.parse(out.trim().split("\n").pop()!);
    expect(r.name).toBe("vt0");
    expect(r.link).toContain("mtu 1400");
    expect(r.link).toContain("UP");
    expect(r.addrs).toContain("inet 100.64.77.1/24");
    expect(r.addrs).toContain("inet6 fd5e:a11:77::1/64");
    expect(r.v4).not.toBeNull();
    expect(r.v4.type).toBe(0);
    expect(r.v4.src).toBe(hex(parseIPv4("100.64.77.1")!));
    expect(r.v4.dst).toBe(hex(parseIPv4("100.64.77.2")!));
    expect(r.v4.id).toBe(0x1234);
    expect(r.v4.seq).toBe(7);
    expect(r.v4.payload).toBe("veilnet tun echo test payload 0123456789");
    expect(r.v4.ipChecksumOk).toBe(true);
    expect(r.v4.icmpChecksumOk).toBe(true);
    expect(r.v6).not.toBeNull();
    expect(r.v6.type).toBe(129);
    expect(r.v6.src).toBe(hex(parseIPv6("fd5e:a11:77::1")!));
    expect(r.v6.dst).toBe(hex(parseIPv6("fd5e:a11:77::2")!));
    expect(r.v6.id).toBe(0x4321);
    expect(r.v6.seq).toBe(9);
    expect(r.v6.payload).toBe("veilnet tun echo test payload 0123456789");
    expect(r.v6.icmpChecksumOk).toBe(true);
    expect(r.routes4).toContain("100.65.12.0/24");
    expect(r.routes6).toMatch(/fd5e:a11:78::\/48 .*metric 77/);
  });
});

describe("openTun argument checks", () => {
  it("refuses names that do not fit IFNAMSIZ", () => {
    expect(() => openTun({ name: "a-name-that-is-far-too-long" })).toThrow(/1\.\.15 bytes/);
  });
  it("refuses offload without a vnet header", () => {
    expect(() => openTun({ name: "vx0", offload: 3 })).toThrow(/vnetHdr/);
  });
});
