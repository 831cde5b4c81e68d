/** Writing trust material: never overwrite, secrets 0600 in 0700 directories. */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { PkiError } from "./errors.ts";

export const SECRET_FILE_MODE = 0o600;
export const PUBLIC_FILE_MODE = 0o644;
export const TRUST_DIR_MODE = 0o700;

/**
 * Creates `path` exclusively (O_EXCL) with `mode`; throws PKI_EXISTS if it is already there, so
 * trust material is never silently replaced. The mode is set at creation, before any byte is written.
 */
export function writeNewFile(path: string, data: string | Uint8Array, mode: number = SECRET_FILE_MODE): void {
  mkdirSync(dirname(path), { recursive: true, mode: TRUST_DIR_MODE });
  let fd: number;
  try {
    fd = openSync(path, "wx", mode);
  } catch (cause) {
    if ((cause as { code?: string }).code === "EEXIST") {
      throw new PkiError("PKI_EXISTS", `refusing to overwrite ${path}`, { cause });
    }
    throw new PkiError("PKI_WRITE", `cannot create ${path}`, { cause });
  }
  try {
    chmodSync(path, mode); // umask may have narrowed or widened nothing, but make it exact
    writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
  } finally {
    closeSync(fd);
  }
}

/** Reads a text file of trust material, with a typed error naming the path (never the content). */
export function readTrustFile(path: string): string {
  if (!existsSync(path)) throw new PkiError("PKI_MISSING", `missing trust file ${path}`);
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    throw new PkiError("PKI_READ", `cannot read ${path}`, { cause });
  }
}
