import { VeilnetError } from "../../errors.ts";

/** A bad plan, a configuration that cannot be written, or a server that cannot be supervised. */
export class MasterError extends VeilnetError {
  override readonly name = "MasterError";
}
