import { defineCommand } from "citty";
import { VeilnetError } from "../../errors.ts";

export const guardianCommand = defineCommand({
  meta: { name: "guardian", description: "the guardian role" },
  args: {},
  run() {
    throw new VeilnetError("NOT_BUILT", "the guardian role is not built yet");
  },
});
