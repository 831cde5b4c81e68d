/**
 * A constant-delay FIFO: every frame pushed at time t is handed to `send` at t + delay, in order.
 * Bounded in frames and bytes (a full line drops the new frame and counts it, like a queue
 * overflow on a real link). One timer is armed at a time, for the head of the line.
 */
export interface DelayLineOptions {
  delayMs: number;
  maxFrames?: number;
  maxBytes?: number;
  send: (frame: Uint8Array) => void;
  now?: () => number;
}

export class DelayLine {
  readonly delayMs: number;
  sent = 0;
  dropped = 0;
  readonly #maxFrames: number;
  readonly #maxBytes: number;
  readonly #send: (frame: Uint8Array) => void;
  readonly #now: () => number;
  readonly #frames: Uint8Array[] = [];
  readonly #due: number[] = [];
  #head = 0;
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: DelayLineOptions) {
    if (!(opts.delayMs >= 0 && opts.delayMs <= 60_000)) throw new RangeError(`delay ${opts.delayMs} ms`);
    this.delayMs = opts.delayMs;
    this.#maxFrames = opts.maxFrames ?? 8192;
    this.#maxBytes = opts.maxBytes ?? 32 * 1024 * 1024;
    this.#send = opts.send;
    this.#now = opts.now ?? (() => performance.now());
  }

  get length(): number {
    return this.#frames.length - this.#head;
  }

  /** Queues `frame` (kept by reference: pass a copy). Returns false when the line is full. */
  push(frame: Uint8Array): boolean {
    if (this.length >= this.#maxFrames || this.#bytes + frame.length > this.#maxBytes) {
      this.dropped++;
      return false;
    }
    this.#frames.push(frame);
    this.#due.push(this.#now() + this.delayMs);
    this.#bytes += frame.length;
    if (this.#timer === undefined) this.#arm();
    return true;
  }

  /** Drops everything queued and disarms the timer. */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#frames.length = 0;
    this.#due.length = 0;
    this.#head = 0;
    this.#bytes = 0;
  }

  #arm(): void {
    const due = this.#due[this.#head];
    if (due === undefined) {
      this.#timer = undefined;
      return;
    }
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, due - this.#now()));
  }

  #flush(): void {
    // Frames due within the next half millisecond go now: timers are ~1 ms granular anyway.
    const limit = this.#now() + 0.5;
    while (this.#head < this.#frames.length && (this.#due[this.#head] ?? 0) <= limit) {
      const frame = this.#frames[this.#head]!;
      this.#head++;
      this.#bytes -= frame.length;
      this.sent++;
      this.#send(frame);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames.splice(0, this.#head);
      this.#due.splice(0, this.#head);
      this.#head = 0;
    }
    this.#arm();
  }
}
