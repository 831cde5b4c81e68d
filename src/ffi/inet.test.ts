import { describe, expect, it } from "bun:test";
import { formatIp, maskPrefix, parseIPv4, parseIPv6, parsePrefix } from "./inet.ts";

describe("inet parsing", () => {
  it("parses IPv4 and rejects malformed forms", () => {
    expect(Array.from(parseIPv4("100.64.1.2")!)).toEqual([100, 64, 1, 2]);
    for (const bad of ["1.2.3", "1.2.3.256", "01.2.3.4", "a.b.c.d", "1.2.3.4.5", ""]) {
      expect(parseIPv4(bad)).toBeNull();
    }
  });
  it("parses IPv6 with :: and embedded IPv4, and formats per RFC 5952", () => {
    expect(formatIp(parseIPv6("fd5e:0a11:0077:0:0:0:0:1")!)).toBe("fd5e:a11:77::1");
    expect(formatIp(parseIPv6("::")!)).toBe("::");
    expect(formatIp(parseIPv6("::ffff:100.64.0.1")!)).toBe("::ffff:6440:1");
    for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", ":::", "g::1"]) {
      expect(parseIPv6(bad)).toBeNull();
    }
  });
  it("parses prefixes and masks host bits", () => {
    const p = parsePrefix("100.64.77.9/20");
    expect(p.prefixLen).toBe(20);
    expect(formatIp(maskPrefix(p.bytes, p.prefixLen))).toBe("100.64.64.0");
    expect(parsePrefix("fd5e::1").prefixLen).toBe(128);
    expect(() => parsePrefix("100.64.0.0/33")).toThrow(/prefix length/);
    expect(() => parsePrefix("nope/8")).toThrow(/not an IP/);
  });
});
