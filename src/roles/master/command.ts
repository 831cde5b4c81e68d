import { defineCommand } from "citty";
import { VeilnetError } from "../../errors.ts";

export const masterCommand = defineCommand({
  meta: { name: "master", description: "the master role" },
  args: {},
  run() {
    throw new VeilnetError("NOT_BUILT", "the master role is not built yet");
  },
});
