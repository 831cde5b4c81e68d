/**
 * A byte stream between this embedded node and an overlay address: Web Streams over one
 * userspace TCP connection, with back-pressure both ways (a slow reader closes the TCP window; a
 * writer waits while the send buffer is full), plus `pipeSocket` to join it to a local TCP socket.
 */
import type { Socket } from "node:net";
import type { StreamError } from "./errors.ts";
import type { TcpConnection } from "./tcp-conn.ts";
import { u32ToIpv4 } from "./tcp-wire.ts";

/* Implementation constants */
/** Bytes the readable side buffers ahead of the reader before the TCP window starts to close. */
export const READ_AHEAD_BYTES = 256 * 1024;

export class ConfluxStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves when the connection is fully closed; rejects with a StreamError when it was reset or timed out. */
  readonly closed: Promise<void>;
  #drainWaiters: (() => void)[] = [];

  constructor(readonly connection: TcpConnection) {
    const conn = connection;
    let readCtl: ReadableStreamDefaultController<Uint8Array> | undefined;
    let readDone = false;
    let resolveClosed: () => void = () => {};
    let rejectClosed: (e: StreamError) => void = () => {};
    this.closed = new Promise<void>((res, rej) => {
      resolveClosed = res;
      rejectClosed = rej;
    });
    this.closed.catch(() => {}); // observed through the streams too
    conn.pause();
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (ctl) => {
          readCtl = ctl;
          conn.setDataHandler((chunk) => {
            ctl.enqueue(chunk);
            if ((ctl.desiredSize ?? 0) <= 0) conn.pause();
          });
          conn.onEnd = () => {
            if (readDone) return;
            readDone = true;
            ctl.close();
          };
        },
        pull: () => conn.resume(),
        cancel: () => conn.destroy("reader cancelled"),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: READ_AHEAD_BYTES }),
    );
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => {
        if (conn.closed) throw conn.error ?? new Error("stream closed");
        if (conn.write(chunk)) return;
        return new Promise<void>((res) => this.#drainWaiters.push(res));
      },
      close: () => conn.end(),
      abort: () => conn.destroy("writer aborted"),
    });
    conn.onDrain = () => {
      const w = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const f of w) f();
    };
    conn.onClose = (err) => {
      conn.onDrain?.();
      if (err) {
        if (!readDone && readCtl) {
          readDone = true;
          readCtl.error(err);
        }
        rejectClosed(err);
      } else resolveClosed();
    };
    if (conn.error) conn.onClose(conn.error);
  }

  get remoteAddress(): string {
    return u32ToIpv4(this.connection.remoteIp);
  }

  get remotePort(): number {
    return this.connection.remotePort;
  }

  get localPort(): number {
    return this.connection.localPort;
  }

  /** Aborts the stream with a reset. */
  destroy(): void {
    this.connection.destroy("destroyed by the application");
  }
}

/**
 * Joins a local TCP socket and an overlay connection, with back-pressure both ways and half
 * close carried across (EOF on one side becomes FIN on the other).
 */
export function pipeSocket(sock: Socket, conn: TcpConnection, onError?: (e: StreamError) => void): void {
  sock.on("data", (d: Buffer) => {
    if (conn.closed) return;
    try {
      if (!conn.write(d)) sock.pause();
    } catch {
      sock.destroy();
    }
  });
  conn.onDrain = () => sock.resume();
  sock.on("end", () => conn.end());
  sock.on("error", () => conn.destroy("local socket error"));
  sock.on("close", () => {
    if (!conn.closed) conn.end();
  });
  conn.setDataHandler((chunk) => {
    if (!sock.write(chunk)) conn.pause();
  });
  sock.on("drain", () => conn.resume());
  conn.onEnd = () => sock.end();
  conn.onClose = (err) => {
    if (err) {
      onError?.(err);
      sock.destroy();
    } else sock.end();
  };
  conn.resume();
  sock.resume();
}
