/**
 * `veilnet --role guardian run`: the HTTPS API, plus the link to Master when Master URLs are known
 * (realm accounts are pushed at start, so servers that lost them get them back), and then the admin
 * socket through which `veilnet admin` sends node commands over this warm link.
 */
import type { Server } from "bun";
import { LocalControlServer } from "../../control/local-control.ts";
import { runAdmin } from "./admin/actions.ts";
import { adminSocketHandlers, adminSocketPath } from "./admin/admin-socket.ts";
import { type Authority, openAuthority } from "./authority.ts";
import type { IssuePolicy } from "./credentials.ts";
import { EnrolmentService } from "./enrol.ts";
import { startApiServer } from "./http/server.ts";
import { ControlLink } from "./nats/control-link.ts";

export interface DaemonOptions {
  readonly state: string;
  readonly hostname: string;
  readonly port: number;
  readonly policy: IssuePolicy;
  readonly log?: (line: string) => void;
}

export interface Daemon {
  readonly authority: Authority;
  readonly server: Server<undefined>;
  readonly link: ControlLink | undefined;
  readonly service: EnrolmentService;
  stop(): Promise<void>;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const log = o.log ?? ((line: string) => console.log(line));
  const authority = await openAuthority(o.state);
  if (o.policy.masters.length > 0) authority.store.setSetting("masters", JSON.stringify(o.policy.masters));
  const link = o.policy.masters.length > 0 ? new ControlLink(authority, o.policy.masters) : undefined;
  if (link) {
    try {
      await link.pushAllRealms();
    } catch (err) {
      log(
        `guardian: could not push realm accounts to Master yet: ${err instanceof Error ? err.message : err}`,
      );
    }
  }
  // A realm's channel to Master takes a connection of its own (1.3–1.7 s on a loaded host): open it while
  // nodes enrol, not when the first admin command to one of them is already waiting.
  const warmRealm = (realm: string) =>
    void link
      ?.realmChannel(realm)
      .catch((err: unknown) => log(`guardian: realm ${realm} channel: ${String(err)}`));
  for (const r of authority.store.realms()) warmRealm(r.id);
  const service = new EnrolmentService(authority, o.policy);
  const server = startApiServer(authority, service, {
    hostname: o.hostname,
    port: o.port,
    onIssued: (kind, nodeId, realm) => {
      log(`guardian: ${kind} ${nodeId}`);
      warmRealm(realm);
    },
    onRefused: (path, code, message) => log(`guardian: refused ${path} ${code}: ${message}`),
  });
  log(`guardian: listening on https://${o.hostname}:${server.port}`);
  const adminSocket = link
    ? LocalControlServer.listen(
        adminSocketPath(o.state),
        adminSocketHandlers((r) => runAdmin(authority, link, r.verb, r.target, r.args, "admin", r.timeoutMs)),
      )
    : undefined;
  return {
    authority,
    server,
    link,
    service,
    async stop() {
      adminSocket?.stop();
      server.stop(true);
      await link?.close();
      authority.close();
    },
  };
}
