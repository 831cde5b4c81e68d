/**
 * The node's share of the control subject scheme (src/control): what a node may publish and
 * subscribe to besides the Guardian's subjects.
 */
export interface SubjectGrants {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

export function nodeSubjectGrants(nodeId: string): SubjectGrants {
  return {
    publish: [`veilnet.node.${nodeId}.>`, "veilnet.presence", "veilnet.signal.*"],
    subscribe: [`veilnet.node.${nodeId}.>`, "veilnet.presence", `veilnet.signal.${nodeId}`],
  };
}
