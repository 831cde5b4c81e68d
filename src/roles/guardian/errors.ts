import { VeilnetError } from "../../errors.ts";

/**
 * A refusal or failure inside the Guardian. `status` is the HTTP status the API answers with; the
 * message is safe to send to the caller (it never contains secrets or token material).
 */
export class GuardianError extends VeilnetError {
  override readonly name = "GuardianError";
  readonly status: number;
  constructor(code: string, message: string, status = 400, options?: ErrorOptions) {
    super(code, message, options);
    this.status = status;
  }
}

/** The Guardian state directory is missing, incomplete, or would be overwritten. */
export class GuardianStateError extends VeilnetError {
  override readonly name = "GuardianStateError";
}
