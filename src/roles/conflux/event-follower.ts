/**
 * One `veilnet events --follow` reader: newline-delimited JSON written to a non-blocking socket.
 * What the socket does not take at once waits in a bounded buffer; when that is full, events are
 * dropped and counted, and the reader is told how many with an `events.dropped` line before the next
 * event that fits. The node never waits for a reader and never holds more than the bound per reader.
 */
import type { NodeEvent } from "./events.ts";

/* Implementation constants */
/** Bytes buffered for one slow reader before events are dropped. */
export const FOLLOWER_MAX_PENDING_BYTES = 256 * 1024;

/** Writes what it can without blocking and returns how many bytes it took (Bun's socket.write). */
export type NonBlockingWrite = (bytes: Uint8Array) => number;

export class EventFollower {
  #pending: Uint8Array = new Uint8Array(0);
  /** Dropped since the last notice went out. */
  #unreported = 0;
  /** Dropped in all. */
  dropped = 0;
  written = 0;
  #closed = false;

  constructor(
    readonly write: NonBlockingWrite,
    readonly maxPendingBytes = FOLLOWER_MAX_PENDING_BYTES,
  ) {}

  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** Queues a line that must go out whatever the buffer holds (the stream's first answer). */
  greet(value: unknown): void {
    if (this.#closed) return;
    this.#append(encoder.encode(`${JSON.stringify(value)}\n`));
    this.flush();
  }

  /** Queues one event (or drops it when the buffer is full) and writes what the socket takes. */
  push(e: NodeEvent): void {
    if (this.#closed) return;
    const line = encodeLine(e);
    const notice =
      this.#unreported > 0
        ? encodeLine({
            seq: 0,
            at: e.at,
            type: "events.dropped",
            detail: { dropped: this.#unreported, totalDropped: this.dropped },
          })
        : undefined;
    const need = line.length + (notice?.length ?? 0);
    if (this.#pending.length + need > this.maxPendingBytes) {
      this.#unreported++;
      this.dropped++;
      return;
    }
    if (notice) {
      this.#append(notice);
      this.#unreported = 0;
    }
    this.#append(line);
    this.flush();
  }

  /** Writes as much of the buffer as the socket takes: call on `drain`. */
  flush(): void {
    if (this.#closed || this.#pending.length === 0) return;
    let n: number;
    try {
      n = this.write(this.#pending);
    } catch {
      this.close();
      return;
    }
    if (n < 0) {
      this.close(); // the socket is gone
      return;
    }
    this.written += n;
    this.#pending = n >= this.#pending.length ? new Uint8Array(0) : this.#pending.slice(n);
  }

  close(): void {
    this.#closed = true;
    this.#pending = new Uint8Array(0);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #append(bytes: Uint8Array): void {
    const next = new Uint8Array(this.#pending.length + bytes.length);
    next.set(this.#pending);
    next.set(bytes, this.#pending.length);
    this.#pending = next;
  }
}

const encoder = new TextEncoder();

function encodeLine(e: NodeEvent): Uint8Array {
  return encoder.encode(`${JSON.stringify(e)}\n`);
}
