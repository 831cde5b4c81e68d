import type { ArgsDef } from "citty";
import { UsageError } from "../errors.ts";

/**
 * citty accepts any flag silently; a network tool must not (a typo in `--listen` would run a node
 * on the default port). Reject every flag the command does not declare, naming the valid ones.
 */
export function rejectUnknownFlags(command: string, args: ArgsDef, rawArgs: readonly string[]): void {
  const known = new Set<string>(["help", "h"]);
  for (const [name, def] of Object.entries(args)) {
    known.add(name);
    known.add(kebab(name));
    const aliases = "alias" in def ? def.alias : undefined;
    for (const alias of typeof aliases === "string" ? [aliases] : (aliases ?? [])) known.add(alias);
    if (def.type === "boolean") known.add(`no-${kebab(name)}`);
  }
  for (const raw of rawArgs) {
    if (raw === "--") break;
    if (!raw.startsWith("-") || raw === "-") continue;
    const flag = raw.replace(/^--?/, "").split("=")[0] ?? "";
    if (/^\d/.test(flag)) continue; // a negative number, not a flag
    if (!known.has(flag)) {
      const valid = Object.entries(args)
        .filter(([, d]) => d.type !== "positional")
        .map(([n]) => `--${kebab(n)}`)
        .join(", ");
      throw new UsageError(
        "USAGE_UNKNOWN_FLAG",
        `${command}: unknown flag '${raw}' (valid: ${valid || "none"})`,
      );
    }
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
