import { ptr } from "bun:ffi";
import { describe, expect, it } from "bun:test";
import { inetChecksum } from "../../../ffi/testing/ip-packets.ts";
import { nativeDataplane } from "./native.ts";

describe("native data plane build", () => {
  it("compiles with the layout defines and matches the kernel ABI", () => {
    expect(nativeDataplane().symbols.dp_abi_check()).toBe(1);
  });

  it("computes the Internet checksum exactly like the RFC 1071 reference, at every length", () => {
    const { dp_inet_checksum } = nativeDataplane().symbols;
    const buf = new Uint8Array(new ArrayBuffer(3100));
    let mismatches = 0;
    for (let len = 0; len < 3000; len++) {
      crypto.getRandomValues(buf);
      const at = len % 7; // unaligned starts too
      const c = dp_inet_checksum(ptr(buf, at), len) & 0xffff;
      const networkOrder = ((c & 0xff) << 8) | (c >> 8); // stored natively = bytes in network order
      if (networkOrder !== inetChecksum(buf.subarray(at, at + len))) mismatches++;
    }
    expect(mismatches).toBe(0);
  });
});
