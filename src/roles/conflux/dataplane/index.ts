/** The Conflux packet data plane: public surface for the node (see dataplane.ts for the model). */

export type { ControlHandler } from "./control-ring.ts";
export {
  DATAPLANE_TUN_OFFLOAD,
  Dataplane,
  type DataplaneOptions,
  DEFAULT_MTU,
  type LoopState,
  openDataplaneTun,
  type PeerConfig,
  type SessionKeys,
} from "./dataplane.ts";
export { DataplaneConfigError, DataplaneLoopError, DataplaneUnavailableError } from "./errors.ts";
export type { CounterName, DataplaneCounters } from "./layout.ts";
export { MAX_PEERS } from "./layout.ts";
export type { PeerStats } from "./peer-table.ts";
export { referenceOpen, referenceSeal } from "./seal-reference.ts";
export * from "./wire.ts";
