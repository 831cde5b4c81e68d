/**
 * Library entry for embedded use: `import { Conflux } from "veilnet"` runs a Conflux node inside
 * the application — no TUN, no root — with raw packets (`node.packets`) and TCP streams
 * (`node.connect`, `node.listen`) over the mesh. See docs/embedded.md.
 */
// Must be evaluated before @peculiar/x509 (tsyringe) loads anywhere in the bundle.
import "reflect-metadata";

export { UsageError, VeilnetError } from "./errors.ts";
export {
  Conflux,
  type ConfluxOptions,
  type PacketPort,
} from "./roles/conflux/embedded/conflux.ts";
export { EmbeddedConfigError, ProxySpecError, StreamError } from "./roles/conflux/embedded/errors.ts";
export type { PacketHandler } from "./roles/conflux/embedded/plane.ts";
export { ConfluxStream } from "./roles/conflux/embedded/stream.ts";
export { VERSION } from "./version.ts";
