/**
 * A data-plane Worker: binds one compiled native loop (TX or RX) by function pointer and runs
 * it. The loop blocks in libc calls; it returns only to let this Worker wake the main thread
 * (control datagrams queued: Atomics.notify on the shared signal word), on stop, or on a fatal
 * error. Nothing per packet crosses into JS.
 */
import { CFunction, type Pointer } from "bun:ffi";
import { G_CTRL_SIGNAL } from "./layout.ts";

declare const self: Worker;

export interface WorkerStart {
  readonly role: "tx" | "rx";
  readonly run: number;
  readonly ctx: number;
  readonly shared: SharedArrayBuffer;
}

export type WorkerReport = { type: "running"; role: string } | { type: "exited"; role: string; code: number };

self.onmessage = (ev: MessageEvent<WorkerStart>) => {
  const { role, run, ctx, shared } = ev.data;
  const loop = CFunction({ ptr: run as Pointer, args: ["ptr"], returns: "i32" });
  const signal = new Int32Array(shared);
  self.postMessage({ type: "running", role } satisfies WorkerReport);
  let code = 0;
  for (;;) {
    code = loop(ctx as Pointer) as number;
    if (code !== 1) break;
    Atomics.add(signal, G_CTRL_SIGNAL >> 2, 1);
    Atomics.notify(signal, G_CTRL_SIGNAL >> 2);
  }
  self.postMessage({ type: "exited", role, code } satisfies WorkerReport);
};
