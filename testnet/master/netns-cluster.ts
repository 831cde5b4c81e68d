/**
 * A Master super cluster across network namespaces: two sites joined by a router, each site a
 * segment with the two nats-servers of one cluster and one client host. Every server runs in its
 * own namespace under its own `veilnet --role master --run --servers NAME` supervisor; the trust
 * material and configurations come from `--init`/`--out` as in production.
 *
 * ```
 *   a1  a2  na                b1  b2  nb        siteA 198.18.1.0/24: r .1, a1 .2, a2 .3, na .4
 *     \ | /                     \ | /           siteB 198.18.2.0/24: r .1, b1 .2, b2 .3, nb .4
 *    [siteA] ─── r (router) ─── [siteB]         every host's default route is r
 * ```
 */
import { LocalCluster } from "../../src/roles/master/local-cluster.ts";
import type { PlanServer } from "../../src/roles/master/plan.ts";
import type { Mesh, TopologySpec } from "../mesh.ts";

export const SUPER_CLUSTER_TOPOLOGY: TopologySpec = {
  hosts: ["a1", "a2", "na", "b1", "b2", "nb"].map((name) => ({ name, gateway: "r" })),
  routers: [{ name: "r" }],
  segments: [
    { name: "siteA", members: ["r", "a1", "a2", "na"] },
    { name: "siteB", members: ["r", "b1", "b2", "nb"] },
  ],
};

/* Implementation constants */
export const MONITOR_TIMEOUT_S = 2;
export const READY_TIMEOUT_MS = 40_000;

/** The mesh host a plan server runs on ("A1" → "a1"). */
export const hostOf = (server: Pick<PlanServer, "name">): string => server.name.toLowerCase();

/** Starts clusters A (a1, a2) and B (b1, b2) through the CLI, each server in its own namespace. */
export async function startNetnsSuperCluster(net: Mesh): Promise<LocalCluster> {
  return LocalCluster.start({
    addresses: [
      [net.addressOf("a1"), net.addressOf("a2")],
      [net.addressOf("b1"), net.addressOf("b2")],
    ],
    launch: (argv, server) => net.spawn(hostOf(server), argv, { stderr: "inherit" }),
    monitor: async (server, path) => {
      const r = await net.exec(hostOf(server), [
        "curl",
        "-sf",
        "--max-time",
        String(MONITOR_TIMEOUT_S),
        `http://${server.advertise}:${server.monitorPort}${path}`,
      ]);
      if (r.code !== 0) throw new Error(`${server.name}${path}: curl exit ${r.code}`);
      return r.stdout;
    },
    readyTimeoutMs: READY_TIMEOUT_MS,
  });
}
