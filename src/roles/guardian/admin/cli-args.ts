/** `veilnet admin`'s flags as both of its paths (via the running Guardian, or direct) use them. */
import { parseDuration } from "../duration.ts";

/** How long a node command waits for the node's answer unless --timeout says otherwise. */
export const ADMIN_TIMEOUT_MS = 5_000;

/** Where a Guardian keeps its state unless told otherwise. */
export const DEFAULT_STATE_DIR = "/var/lib/veilnet/guardian";

export type AdminCliArgs = {
  action: string;
  target?: string;
  value?: string;
  state: string;
  masters?: string;
  realm?: string;
  taints?: string;
  uses?: string;
  ttl?: string;
  label?: string;
  reason?: string;
  hard?: boolean;
  timeout?: string;
  limit?: string;
  json?: boolean;
};

/** How long a node command waits for the node's answer: --timeout, else the default. */
export function adminTimeoutMs(args: AdminCliArgs): number {
  return args.timeout ? parseDuration(args.timeout, "--timeout") : ADMIN_TIMEOUT_MS;
}

/** The arguments a node command carries, from the CLI's flags. */
export function nodeCommandArgs(args: AdminCliArgs): { taint?: string; hard?: boolean; reason?: string } {
  return {
    ...(args.value ? { taint: args.value } : {}),
    ...(args.hard ? { hard: true } : {}),
    ...(args.reason ? { reason: args.reason } : {}),
  };
}
