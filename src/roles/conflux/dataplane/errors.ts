/** Errors of the data plane's control surface. The packet loops never throw: they count drops. */
import { VeilnetError } from "../../../errors.ts";

/** The native data plane cannot run here (no libcrypto, compiler failure, ABI mismatch). */
export class DataplaneUnavailableError extends VeilnetError {
  override readonly name = "DataplaneUnavailableError";
}

/** A control call with arguments the data plane refuses (bad slot, key size, index collision…). */
export class DataplaneConfigError extends VeilnetError {
  override readonly name = "DataplaneConfigError";
}

/** A native loop thread failed to start or stopped on a fatal error. */
export class DataplaneLoopError extends VeilnetError {
  override readonly name = "DataplaneLoopError";
}
