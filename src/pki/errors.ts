import { VeilnetError } from "../errors.ts";

/**
 * Raised for trust-material failures: malformed or mis-signed JWTs, certificates or keys, and
 * files that would be overwritten. Messages never contain seeds or private keys.
 */
export class PkiError extends VeilnetError {
  override readonly name = "PkiError";
}
