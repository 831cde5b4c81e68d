#!/usr/bin/env bun
/** veilnet's entry: argv → role or subcommand; nothing else lives here. */
// Must be evaluated before @peculiar/x509 (tsyringe) loads anywhere in the bundle.
import "reflect-metadata";
import { type CommandDef, runCommand, showUsage } from "citty";
import { mainUsage } from "./cli/main-usage.ts";
import { isRole, loadRoleCommand, ROLES } from "./cli/roles.ts";
import { SUBCOMMANDS } from "./cli/subcommands.ts";
import { rejectUnknownFlags } from "./cli/usage.ts";
import { UsageError, VeilnetError } from "./errors.ts";

async function main(argv: string[]): Promise<number> {
  const roleAt = argv.findIndex((a) => a === "--role" || a.startsWith("--role="));
  if (roleAt >= 0) {
    const token = argv[roleAt] ?? "";
    const role = token.includes("=") ? token.slice("--role=".length) : argv[roleAt + 1];
    const rest = argv.filter((_, i) => i !== roleAt && (token.includes("=") || i !== roleAt + 1));
    if (!role || !isRole(role)) {
      throw new UsageError("USAGE_BAD_ROLE", `unknown role '${role ?? ""}' (valid: ${ROLES.join(", ")})`);
    }
    return dispatch(`veilnet --role ${role}`, await loadRoleCommand(role), rest);
  }
  const first = argv[0];
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    console.log(mainUsage());
    return 0;
  }
  if (first === "--version" || first === "-v") return main(["version"]);
  const sub = SUBCOMMANDS[first];
  if (!sub) {
    const what = first.startsWith("-") ? `unknown flag '${first}'` : `unknown command '${first}'`;
    throw new UsageError(
      "USAGE_UNKNOWN",
      `${what} (valid: --role ${ROLES.join("|")}, ${Object.keys(SUBCOMMANDS).join(", ")}, --help)`,
    );
  }
  return dispatch(`veilnet ${first}`, await sub.load(), argv.slice(1));
}

async function dispatch(label: string, command: CommandDef, rawArgs: string[]): Promise<number> {
  if (rawArgs.includes("--help") || rawArgs.includes("-h")) {
    await showUsage(command);
    return 0;
  }
  const args = typeof command.args === "function" ? await command.args() : await command.args;
  rejectUnknownFlags(label, args ?? {}, rawArgs);
  const { result } = await runCommand(command, { rawArgs });
  return typeof result === "number" ? result : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`veilnet: ${err.message}`);
      process.exit(2);
    }
    // citty reports a missing required argument with its own error class (code EARG).
    if (err instanceof Error && (err as { code?: string }).code === "EARG") {
      console.error(`veilnet: ${err.message}`);
      process.exit(2);
    }
    const message = err instanceof VeilnetError ? `${err.code}: ${err.message}` : String(err);
    console.error(`veilnet: ${message}`);
    process.exit(1);
  },
);
