/** This node's own measurements of its neighbour links (link-session RTT probes). */
import { Estimate, SmoothedRtt } from "./estimate.ts";
import type { NodeId } from "./types.ts";

export class LinkState {
  up = false;
  readonly rtt = new SmoothedRtt();
  readonly est = new Estimate();
  nextProbeAt = 0;
  probeInFlight = false;
  fails = 0;
  dirty = false;

  constructor(readonly id: NodeId) {}

  /** RTT in ms used for the distance table (NaN until measured). */
  costMs(): number {
    return this.est.nEff > 0 ? this.est.mu : Number.NaN;
  }
}
