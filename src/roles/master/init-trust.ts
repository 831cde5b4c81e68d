/** `--init`: creates the trust material a plan needs (operator, system account, CA, server certs). */
import { isIP } from "node:net";
import { createTrust, type Trust } from "../../pki/index.ts";
import { allServers, type Plan } from "./plan.ts";

/** Creates the plan's trust directory; refuses (PKI_EXISTS) if any file of it already exists. */
export async function initTrust(plan: Plan): Promise<Trust> {
  return createTrust({
    dir: plan.trust,
    operatorName: plan.operator,
    servers: allServers(plan).map((s) => {
      const addrs = [...new Set([s.host, s.advertise])];
      const ipAddresses = addrs.filter((a) => isIP(a) !== 0);
      const dnsNames = addrs.filter((a) => isIP(a) === 0);
      if (ipAddresses.includes("127.0.0.1") && !dnsNames.includes("localhost")) dnsNames.push("localhost");
      return { name: s.name, commonName: s.name, ipAddresses, dnsNames };
    }),
  });
}
