import { VeilnetError } from "../errors.ts";

/** A Guardian API exchange failed: refused by the Guardian (`status` set), malformed, or unreachable. */
export class GuardianApiError extends VeilnetError {
  override readonly name = "GuardianApiError";
  /** The HTTP status of a refusal, 0 when the failure was local or on the network. */
  readonly status: number;
  constructor(code: string, message: string, status = 0, options?: ErrorOptions) {
    super(code, message, options);
    this.status = status;
  }
}

/** An admin command or result failed verification (signature, target, expiry, replay, shape). */
export class AdminProtocolError extends VeilnetError {
  override readonly name = "AdminProtocolError";
}
