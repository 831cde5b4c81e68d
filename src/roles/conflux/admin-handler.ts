/**
 * What this node does for each of Guardian's admin commands (the checks — signature, nonce,
 * expiry, target, realm — happen before, in guardian-api/admin-responder.ts). Commands that stop
 * the node schedule the stop so that the signed answer still goes out.
 */
import type { AdminHandler } from "../../guardian-api/admin-responder.ts";
import type { ConfluxNode } from "./node.ts";

const STOP_DELAY_MS = 200;

export function createAdminHandler(node: ConfluxNode): AdminHandler {
  return {
    query: () => node.status(),
    taint: (taint) => ({
      taints: node.credentials.taints,
      note: `taint '${taint}' takes effect at the next renewal`,
    }),
    untaint: (taint) => ({
      taints: node.credentials.taints,
      note: `taint '${taint}' is removed at the next renewal`,
    }),
    quarantine: (reason) => {
      node.quarantined = reason ?? "quarantined by Guardian";
      node.resetSessions("quarantined");
      node.log(`quarantined: ${node.quarantined}`);
      node.local.emit("node.quarantined", undefined, { reason: node.quarantined });
      return { quarantined: true };
    },
    release: () => {
      node.quarantined = undefined;
      node.resetSessions("released from quarantine");
      node.log("released from quarantine");
      node.local.emit("node.released", undefined, {});
      return { quarantined: false };
    },
    invalidate: () => {
      // Session keys go now; peers re-handshake with fresh ephemeral keys on their next offer.
      node.resetSessions("keys invalidated");
      return { sessionsTornDown: true };
    },
    revoke: (reason) => {
      setTimeout(() => void node.stop(`revoked: ${reason ?? "by Guardian"}`), STOP_DELAY_MS);
      return { stopping: true };
    },
    shutdown: (hard) => {
      setTimeout(() => (hard ? process.exit(0) : void node.stop("shutdown by Guardian")), STOP_DELAY_MS);
      return { stopping: true, hard };
    },
  };
}
