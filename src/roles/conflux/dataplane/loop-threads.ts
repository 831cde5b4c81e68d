/**
 * Runs compiled native loops on threads of their own (native/thread.c) and wakes the main
 * thread through a pipe that Bun's event loop reads. A loop returns 1 when the main thread has
 * work — `onWake` then runs — and anything else when it ends.
 *
 * Why not Workers: a Worker is a second JavaScript VM (≈ 3.5 MB resident each, measured on a
 * running node) that would only ever make one blocking C call.
 *
 * @example
 * const threads = new LoopThreads({
 *   wakeWord: { shared, offset: G_CTRL_WAKE },
 *   onWake: () => ring.drain(handler, onError),
 * });
 * threads.spawn({ name: "rx", run: functionPointer("dp_rx_run"), ctx });
 * // … ask the loops to stop (their own stop flag / eventfd), then:
 * const codes = await threads.join(3_000); // null if a loop did not end in time
 */
import type { Pointer } from "bun:ffi";
import { ptr } from "bun:ffi";
import { closeFd, createPipe } from "../../../ffi/libc.ts";
import { DataplaneLoopError } from "./errors.ts";
import { nativeDataplane } from "./native.ts";

/* Implementation constants */
const JOIN_POLL_MS = 2;

export interface LoopSpec {
  /** For error messages: "tx", "rx", … */
  readonly name: string;
  /** Address of a compiled `int run(void *ctx)`. */
  readonly run: number;
  /** Its argument. */
  readonly ctx: number;
}

export interface LoopThreadOptions {
  /**
   * A 32-bit word in shared memory that coalesces wakes: a loop writes to the pipe only when it
   * finds 0 there (and sets 1); the main thread stores 0 before it calls `onWake`. Without one,
   * every return of 1 writes a byte.
   */
  readonly wakeWord?: { readonly shared: SharedArrayBuffer; readonly offset: number };
  /** Called on the main thread after a loop asked for attention (and when a loop ends). */
  readonly onWake: () => void;
}

export class LoopThreads {
  private readonly handles: { name: string; handle: Pointer }[] = [];
  private readonly wakeWord: Int32Array | null;
  private readonly wakeIndex: number;
  private readonly wakeAddress: number;
  private readonly readFd: number;
  private readonly writeFd: number;
  private readonly reading: Promise<void>;
  private joined = false;

  constructor(private readonly opts: LoopThreadOptions) {
    const word = opts.wakeWord;
    this.wakeWord = word ? new Int32Array(word.shared) : null;
    this.wakeIndex = (word?.offset ?? 0) >> 2;
    this.wakeAddress = word ? Number(ptr(new Uint8Array(word.shared))) + word.offset : 0;
    [this.readFd, this.writeFd] = createPipe();
    this.reading = this.readWakes();
  }

  /** Starts `loop` on a thread of its own. */
  spawn(loop: LoopSpec): void {
    if (this.joined) throw new DataplaneLoopError("DP_THREAD_FAILED", "these loop threads were joined");
    const { symbols } = nativeDataplane();
    const handle = Number(
      symbols.dp_thread_start(
        loop.run as Pointer,
        loop.ctx as Pointer,
        this.wakeAddress as Pointer,
        this.writeFd,
      ) ?? 0,
    ) as Pointer;
    if (!handle) {
      throw new DataplaneLoopError("DP_THREAD_FAILED", `could not start the ${loop.name} loop thread`);
    }
    this.handles.push({ name: loop.name, handle });
  }

  /** Whether every loop has returned. */
  allDone(): boolean {
    const { symbols } = nativeDataplane();
    return this.handles.every((t) => symbols.dp_thread_done(t.handle) === 1);
  }

  /**
   * Waits up to `timeoutMs` for every loop to return, then joins the threads and closes the
   * pipe. Returns each loop's return value by name, or null if one is still running (its thread
   * and context must then be leaked: it may still touch them).
   */
  async join(timeoutMs: number): Promise<Record<string, number> | null> {
    if (this.joined) return null;
    const deadline = performance.now() + timeoutMs;
    while (!this.allDone()) {
      if (performance.now() > deadline) return null;
      await Bun.sleep(JOIN_POLL_MS);
    }
    this.joined = true;
    const { symbols } = nativeDataplane();
    const codes: Record<string, number> = {};
    for (const t of this.handles) {
      codes[t.name] = symbols.dp_thread_code(t.handle);
      symbols.dp_thread_join(t.handle);
    }
    closeFd(this.writeFd); // the reader sees end-of-file and closes its end
    await this.reading;
    return codes;
  }

  private async readWakes(): Promise<void> {
    try {
      for await (const _ of Bun.file(this.readFd).stream()) {
        if (this.wakeWord) Atomics.store(this.wakeWord, this.wakeIndex, 0); // a full fence: see thread.c
        try {
          this.opts.onWake();
        } catch {
          // the caller counts its own failures; the pipe must keep being read
        }
      }
    } finally {
      closeFd(this.readFd);
    }
  }
}
