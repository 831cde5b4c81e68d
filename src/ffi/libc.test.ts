import { describe, expect, it } from "bun:test";
import { ErrnoError } from "./errors.ts";
import { check, cString, Errno, O_RDONLY, sys } from "./index.ts";

describe("libc bindings", () => {
  it("turns a failing call into a typed ErrnoError with name and number", () => {
    let err: unknown;
    try {
      check(sys.open(cString("/nonexistent/veilnet"), O_RDONLY, 0), "open", "/nonexistent/veilnet");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ErrnoError);
    const e = err as ErrnoError;
    expect(e.errno).toBe(Errno.ENOENT);
    expect(e.errnoName).toBe("ENOENT");
    expect(e.code).toBe("FFI_ENOENT");
    expect(e.name).toBe("ErrnoError");
  });
});
