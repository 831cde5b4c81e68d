/** An append-only log file with a size cap: past `maxBytes` it is renamed to `<path>.1` (one kept). */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export const LOG_FILE_MODE = 0o640;

export class RotatingLog {
  readonly path: string;
  readonly maxBytes: number;
  #fd: number;
  #size: number;

  constructor(path: string, maxBytes: number) {
    this.path = path;
    this.maxBytes = maxBytes;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#fd = openSync(path, "a", LOG_FILE_MODE);
    this.#size = existsSync(path) ? statSync(path).size : 0;
  }

  write(chunk: Uint8Array | string): void {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    if (this.#size + bytes.length > this.maxBytes && this.#size > 0) this.#rotate();
    writeSync(this.#fd, bytes);
    this.#size += bytes.length;
  }

  close(): void {
    closeSync(this.#fd);
  }

  #rotate(): void {
    closeSync(this.#fd);
    renameSync(this.path, `${this.path}.1`);
    this.#fd = openSync(this.path, "a", LOG_FILE_MODE);
    this.#size = 0;
  }
}
