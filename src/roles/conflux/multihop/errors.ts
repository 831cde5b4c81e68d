import { VeilnetError } from "../../../errors.ts";

/** Multi-hop routing could not be set up (path TUN, kernel routes, routing table). */
export class MultihopError extends VeilnetError {
  override readonly name = "MultihopError";
}
