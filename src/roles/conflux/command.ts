import { defineCommand } from "citty";
import { VeilnetError } from "../../errors.ts";

export const confluxCommand = defineCommand({
  meta: { name: "conflux", description: "the conflux role" },
  args: {},
  run() {
    throw new VeilnetError("NOT_BUILT", "the conflux role is not built yet");
  },
});
