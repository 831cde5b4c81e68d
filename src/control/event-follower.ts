/**
 * One follower of a local control stream (a node's `veilnet events --follow`): newline-delimited
 * JSON written to a non-blocking socket.
 * What the socket does not take at once waits in a bounded buffer; when that is full, events are
 * dropped and counted, and the reader is told how many with an `events.dropped` line before the next
 * event that fits. The node never waits for a reader and never holds more than the bound per reader.
 */
/* Implementation constants */
/** Bytes buffered for one slow reader before events are dropped. */
export const FOLLOWER_MAX_PENDING_BYTES = 256 * 1024;

/** What a stream carries: any JSON object with a time (a drop notice reuses it). */
export interface FollowedEvent {
  readonly at: number;
}

/** Writes what it can without blocking and returns how many bytes it took (Bun's socket.write). */
export type NonBlockingWrite = (bytes: Uint8Array) => number;

export class EventFollower {
  /** Encoded lines not yet taken by the socket; the first may be partly written already. */
  readonly #queue: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Dropped since the last notice went out. */
  #unreported = 0;
  /** Dropped in all. */
  dropped = 0;
  written = 0;
  #closed = false;
  /** Nothing is written before the stream's first answer (greet). */
  #started = false;

  constructor(
    readonly write: NonBlockingWrite,
    readonly maxPendingBytes = FOLLOWER_MAX_PENDING_BYTES,
  ) {}

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * The stream's first answer: goes out ahead of every event queued so far (a replay), whatever the
   * buffer holds, and starts the writing.
   */
  greet(value: unknown): void {
    if (this.#closed) return;
    const line = encoder.encode(`${JSON.stringify(value)}\n`);
    this.#queue.unshift(line);
    this.#pendingBytes += line.length;
    this.#started = true;
    this.flush();
  }

  /** Queues one event (or drops it when the buffer is full) and writes what the socket takes. */
  push(e: FollowedEvent): void {
    if (this.#closed) return;
    const line = encodeLine(e);
    // Room for the line and a notice of what was dropped before it (a notice is < 128 bytes).
    const need = line.length + (this.#unreported > 0 ? 128 : 0);
    if (this.#pendingBytes + need > this.maxPendingBytes) {
      this.#unreported++;
      this.dropped++;
      return;
    }
    if (this.#unreported > 0) {
      this.#enqueue(
        encodeLine({
          seq: 0,
          at: e.at,
          type: "events.dropped",
          detail: { dropped: this.#unreported, totalDropped: this.dropped },
        }),
      );
      this.#unreported = 0;
    }
    this.#enqueue(line);
    this.flush();
  }

  /** Writes as much of the queue as the socket takes: call on `drain`. */
  flush(): void {
    while (this.#started && !this.#closed && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      let n: number;
      try {
        n = this.write(head);
      } catch {
        this.close();
        return;
      }
      if (n < 0) {
        this.close(); // the socket is gone
        return;
      }
      this.written += n;
      this.#pendingBytes -= n;
      if (n < head.length) {
        this.#queue[0] = head.subarray(n);
        return; // the socket is full: wait for drain
      }
      this.#queue.shift();
    }
  }

  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#pendingBytes = 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #enqueue(bytes: Uint8Array): void {
    this.#queue.push(bytes);
    this.#pendingBytes += bytes.length;
  }
}

const encoder = new TextEncoder();

function encodeLine(e: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(e)}\n`);
}
