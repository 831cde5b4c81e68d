/** The path rules of DESIGN.md "Multi-hop paths": ends right, no loop, no repeated hop, hop cap. */
import type { Hops, NodeId } from "./types.ts";

export function validPath(self: NodeId, dest: NodeId, hops: Hops, hopCap: number): boolean {
  if (!Array.isArray(hops) || hops.length === 0 || hops.length > hopCap) return false;
  if (hops[hops.length - 1] !== dest || dest === self) return false;
  const seen = new Set<NodeId>();
  for (const h of hops) {
    if (!Number.isInteger(h) || h < 0 || h > 0xffffffff || h === self || seen.has(h)) return false;
    seen.add(h);
  }
  return true;
}
