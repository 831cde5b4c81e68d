import { VeilnetError } from "../../../errors.ts";

/** A misuse of the embedded packet plane's configuration API (bad slot, key, prefix). */
export class EmbeddedConfigError extends VeilnetError {
  override readonly name = "EmbeddedConfigError";
}

/** A stream could not be opened or was torn down (refused, reset, timed out, no route). */
export class StreamError extends VeilnetError {
  override readonly name = "StreamError";
}

/** A `veilnet proxy` mapping that does not parse or cannot be served. */
export class ProxySpecError extends VeilnetError {
  override readonly name = "ProxySpecError";
}
