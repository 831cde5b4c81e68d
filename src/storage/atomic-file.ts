/**
 * Crash-safe file writes: write a temporary file beside the target, fsync it, rename it over the
 * target, fsync the directory. A reader sees the old content or the new one, never half of either.
 * Secrets are created 0600 from the first byte (the mode is set at open, not after the write).
 */
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { VeilnetError } from "../errors.ts";

export class FileWriteError extends VeilnetError {
  override readonly name = "FileWriteError";
}

export interface AtomicWriteOptions {
  /** File mode; 0o600 for secrets. */
  mode?: number;
  /** Refuse to replace an existing file (key material is created once). */
  exclusive?: boolean;
}

export function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): void {
  const mode = options.mode ?? 0o644;
  const tmp = join(dirname(path), `.${Math.random().toString(36).slice(2)}.tmp`);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let fd = -1;
  try {
    fd = openSync(tmp, "wx", mode);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    if (options.exclusive) linkExclusive(tmp, path);
    else renameSync(tmp, path);
    syncDirectory(dirname(path));
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already renamed or never created */
    }
    if (err instanceof VeilnetError) throw err;
    throw new FileWriteError("FILE_WRITE_FAILED", `cannot write ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function linkExclusive(tmp: string, path: string): void {
  // link(2) fails with EEXIST instead of replacing: an existing key is never overwritten.
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new FileWriteError("FILE_EXISTS", `${path} already exists; refusing to overwrite it`);
    }
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
