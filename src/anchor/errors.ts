import { VeilnetError } from "../errors.ts";

/** Raised for malformed keys or identity files; the message never contains key material. */
export class IdentityError extends VeilnetError {
  override readonly name = "IdentityError";
}
