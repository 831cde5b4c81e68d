/**
 * What the node needs from a packet plane: the native TUN data plane (dataplane/dataplane.ts)
 * implements it, and so can an in-process plane for embedded mode. Slots are small integers the
 * node assigns per peer; keys and endpoints live in the plane, never per packet in JS.
 */
import type { Endpoint } from "../../ffi/udp.ts";
import type { PeerConfig, SessionKeys } from "./dataplane/dataplane.ts";
import type { PeerStats } from "./dataplane/peer-table.ts";

export interface PacketIO {
  readonly port: number;
  onControl(handler: (datagram: Uint8Array, from: Endpoint) => void): void;
  sendControl(datagram: Uint8Array, to: Endpoint): boolean;
  setPeer(slot: number, cfg: PeerConfig): void;
  rekey(slot: number, keys: SessionKeys): void;
  updateEndpoint(slot: number, endpoint: Endpoint): void;
  removePeer(slot: number): void;
  route(prefix: string, slot: number): void;
  unroute(prefix: string): boolean;
  sendKeepalive(slot: number): void;
  peerStats(slot: number): PeerStats;
  counters(): Record<string, number>;
  stop(): Promise<void>;
}
