import { defineCommand } from "citty";
import { VERSION } from "../version.ts";

export const versionCommand = defineCommand({
  meta: { name: "version", description: "print the version and build facts" },
  args: {
    json: { type: "boolean", description: "print as JSON" },
  },
  run({ args }) {
    const facts = { version: VERSION, bun: Bun.version, platform: `${process.platform}-${process.arch}` };
    console.log(
      args.json ? JSON.stringify(facts) : `veilnet ${facts.version} (bun ${facts.bun}, ${facts.platform})`,
    );
  },
});
