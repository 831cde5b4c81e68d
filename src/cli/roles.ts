import type { CommandDef } from "citty";

export const ROLES = ["master", "guardian", "conflux"] as const;
export type Role = (typeof ROLES)[number];

/** Role commands load lazily so `veilnet version` does not pay for NATS, sqlite or FFI. */
export async function loadRoleCommand(role: Role): Promise<CommandDef> {
  switch (role) {
    case "master":
      return (await import("../roles/master/command.ts")).masterCommand as CommandDef;
    case "guardian":
      return (await import("../roles/guardian/command.ts")).guardianCommand as CommandDef;
    case "conflux":
      return (await import("../roles/conflux/command.ts")).confluxCommand as CommandDef;
  }
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
