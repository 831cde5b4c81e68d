import { VeilnetError } from "../../errors.ts";

/** An AEAD backend could not be created (library missing, bad key size). Never carries key bytes. */
export class AeadError extends VeilnetError {
  override readonly name = "AeadError";
}
