/**
 * `veilnet --role master`: NATS super-cluster configuration and supervision.
 *
 *   veilnet --role master --plan plan.json --init               create trust material (refuses to overwrite)
 *   veilnet --role master --plan plan.json --out DIR            write one nats-server config per server
 *   veilnet --role master --plan plan.json --out DIR --run      … and supervise the local servers
 */
import { resolve } from "node:path";
import { defineCommand } from "citty";
import { UsageError } from "../../errors.ts";
import { initTrust } from "./init-trust.ts";
import { allServers, clientUrls, loadPlan } from "./plan.ts";
import { serverLayout } from "./server-config.ts";
import { Supervisor } from "./supervisor.ts";
import { writeServerConfigs } from "./write-configs.ts";

export const masterCommand = defineCommand({
  meta: {
    name: "master",
    description: "generate and supervise the NATS super cluster that carries control messages",
  },
  args: {
    plan: {
      type: "string",
      description: "plan file (JSON): clusters, servers, ports, trust directory",
      required: true,
    },
    out: { type: "string", description: "directory for the generated nats-server configurations" },
    init: { type: "boolean", description: "create operator, system account, CA and server certificates" },
    run: { type: "boolean", description: "run and supervise the configured nats-server processes" },
    servers: { type: "string", description: "comma-separated server names to run here (default: all)" },
    natsServer: { type: "string", description: "nats-server executable", default: "nats-server" },
  },
  async run({ args }) {
    const plan = loadPlan(args.plan);
    if (!args.init && !args.out) throw new UsageError("USAGE_MASTER", "give --init and/or --out DIR");
    if (args.run && !args.out) throw new UsageError("USAGE_MASTER", "--run needs --out DIR");
    if (args.init) {
      const trust = await initTrust(plan);
      console.log(`trust material created in ${trust.paths.dir}`);
      console.log(`operator ${trust.operator.publicKey}`);
      console.log(`system account ${trust.systemAccount.publicKey}`);
    }
    if (!args.out) return 0;
    const outDir = resolve(args.out);
    const written = await writeServerConfigs(plan, outDir);
    for (const w of written) console.log(`config ${w.server} ${w.path}`);
    console.log(`client urls ${clientUrls(plan).join(",")}`);
    if (!args.run) return 0;

    const wanted = args.servers ? new Set(args.servers.split(",").map((s) => s.trim())) : undefined;
    const servers = allServers(plan).filter((s) => !wanted || wanted.has(s.name));
    if (wanted && servers.length !== wanted.size) {
      throw new UsageError("USAGE_MASTER", `--servers names a server that is not in the plan`);
    }

    const supervisor = new Supervisor({
      natsServer: args.natsServer,
      servers: servers.map((s) => ({ name: s.name, layout: serverLayout(outDir, s.name) })),
      onEvent: (e) => console.log(JSON.stringify({ t: new Date().toISOString(), ...e })),
    });
    supervisor.start();
    await new Promise<void>((resolveStop) => {
      const onSignal = () => {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
        supervisor.stop().then(resolveStop, resolveStop);
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    });
    return 0;
  },
});
