import { join } from "node:path";
import { defineCommand } from "citty";
import { CONFLUX_DEFAULTS } from "../roles/conflux/config.ts";
import { LOCAL_CONTROL_SOCKET, requestLocal } from "../roles/conflux/local-control.ts";

/** `veilnet status|peers|counters`: asks the local node through its control socket. */
export function localQueryCommand(name: string, description: string) {
  return defineCommand({
    meta: { name, description },
    args: {
      state: {
        type: "string",
        description: `the node's state directory (default ${CONFLUX_DEFAULTS.stateDir})`,
      },
      json: { type: "boolean", description: "print raw JSON" },
    },
    async run({ args }) {
      const path = join(args.state ?? CONFLUX_DEFAULTS.stateDir, LOCAL_CONTROL_SOCKET);
      const result = await requestLocal(path, name);
      console.log(args.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
    },
  });
}
