/**
 * Compiles the native loops (native/*.c, one translation unit) once per process with bun:ffi's `cc` (TinyCC) on the main thread —
 * TinyCC is not thread-safe — and exposes the raw function pointers that the loop threads run
 * (loop-threads.ts). The C source travels inside the executable as text and is written to a private
 * 0700 directory first, because `cc` needs a real file (also inside `bun build --compile`).
 */
import { cc } from "bun:ffi";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadGlobalLibrary } from "../../../ffi/libc.ts";
import { DataplaneUnavailableError } from "./errors.ts";
import { nativeDefines } from "./layout.ts";
import base from "./native/base.c" with { type: "text" };
import relay from "./native/relay.c" with { type: "text" };
import route from "./native/route.c" with { type: "text" };
import rx from "./native/rx.c" with { type: "text" };
import rxDeliver from "./native/rx-deliver.c" with { type: "text" };
import rxState from "./native/rx-state.c" with { type: "text" };
import thread from "./native/thread.c" with { type: "text" };
import tx from "./native/tx.c" with { type: "text" };

/** One translation unit, in dependency order (see native/base.c). */
const SOURCES: readonly [string, string][] = [
  ["base.c", base],
  ["thread.c", thread],
  ["route.c", route],
  ["tx.c", tx],
  ["rx-state.c", rxState],
  ["rx-deliver.c", rxDeliver],
  ["relay.c", relay],
  ["rx.c", rx],
];

const SYMBOLS = {
  dp_tx_new: { args: ["ptr", "i32", "i32", "i32", "u32", "i32"], returns: "ptr" },
  dp_tx_run: { args: ["ptr"], returns: "i32" },
  dp_tx_free: { args: ["ptr"], returns: "void" },
  dp_rx_new: { args: ["ptr", "i32", "i32", "i32", "u32", "i32"], returns: "ptr" },
  dp_rx_run: { args: ["ptr"], returns: "i32" },
  dp_rx_free: { args: ["ptr"], returns: "void" },
  dp_thread_start: { args: ["ptr", "ptr", "ptr", "i32"], returns: "ptr" },
  dp_thread_done: { args: ["ptr"], returns: "i32" },
  dp_thread_code: { args: ["ptr"], returns: "i32" },
  dp_thread_join: { args: ["ptr"], returns: "void" },
  dp_abi_check: { args: [], returns: "i32" },
  dp_inet_checksum: { args: ["ptr", "u32"], returns: "i32" },
} as const;

function compile() {
  if (process.arch !== "x64" || process.platform !== "linux") {
    throw new DataplaneUnavailableError(
      "DP_UNSUPPORTED_PLATFORM",
      "the native data plane needs Linux x86-64",
    );
  }
  if (!loadGlobalLibrary("libcrypto.so.3")) {
    throw new DataplaneUnavailableError("DP_NO_LIBCRYPTO", "libcrypto.so.3 (OpenSSL 3) is not installed");
  }
  const dir = mkdtempSync(join(tmpdir(), "veilnet-dp-"));
  try {
    const file = join(dir, "dataplane.c");
    const source = SOURCES.map(([name, text]) => `/* ==== ${name} ==== */\n${text}`).join("\n");
    writeFileSync(file, source, { mode: 0o600 });
    const lib = cc({ source: file, define: nativeDefines(), symbols: SYMBOLS });
    if (lib.symbols.dp_abi_check() !== 1) {
      throw new DataplaneUnavailableError(
        "DP_ABI_MISMATCH",
        "native struct layout does not match the kernel ABI",
      );
    }
    return lib;
  } catch (e) {
    if (e instanceof DataplaneUnavailableError) throw e;
    throw new DataplaneUnavailableError("DP_COMPILE_FAILED", `compiling the data plane failed: ${e}`, {
      cause: e,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export type NativeDataplane = ReturnType<typeof compile>;
let compiled: NativeDataplane | undefined;

/** The process-wide compiled data plane (never closed: loop threads run its code). */
export function nativeDataplane(): NativeDataplane {
  compiled ??= compile();
  return compiled;
}

/** Raw address of a compiled loop, for {@link LoopThreads.start}. */
export function functionPointer(name: keyof typeof SYMBOLS): number {
  const fn = nativeDataplane().symbols[name] as unknown as { ptr: number };
  return fn.ptr;
}
