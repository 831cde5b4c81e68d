import { VERSION } from "../version.ts";
import { ROLES } from "./roles.ts";
import { SUBCOMMANDS } from "./subcommands.ts";

export function mainUsage(): string {
  const subs = Object.entries(SUBCOMMANDS)
    .map(([name, s]) => `  ${name.padEnd(10)} ${s.description}`)
    .join("\n");
  return `veilnet ${VERSION} — identity-native, post-quantum mesh overlay network

Usage:
  veilnet --role <${ROLES.join("|")}> [flags]   run a role (see 'veilnet --role R --help')
  veilnet <command> [flags]                     run a command

Roles:
  master     generate and supervise the NATS super cluster that carries control messages
  guardian   identity authority: enrolment, short-lived credentials, realms, revocation, admin
  conflux    the mesh node: Anchor sessions, learned multi-hop paths, TUN or embedded I/O

Commands:
${subs}

Exit codes: 0 ok, 1 runtime failure, 2 bad usage.`;
}
