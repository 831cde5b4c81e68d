import { VeilnetError } from "../errors.ts";

/** Control-plane failures a caller must handle: connect, permissions, rate limits, request timeouts. */
export class ControlError extends VeilnetError {
  override readonly name = "ControlError";
}
