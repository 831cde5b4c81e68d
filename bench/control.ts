/**
 * Control-plane benchmark on a real 2x2 super cluster (loopback, real nats-server processes, mTLS +
 * JWT): request/reply latency within a cluster and across the gateway, raw NATS (the baseline in
 * the same run) vs signed envelopes vs sealed envelopes, and steady-state messages per second per
 * node (at the default send rate limit, and unlimited = signing-bound).
 * Last line: key=value pairs.
 */
import { Identity } from "../src/anchor/identity.ts";
import {
  ControlChannel,
  ControlConnection,
  nodePermissions,
  pushAccountJwt,
  Subjects,
} from "../src/control/index.ts";
import { LocalCluster } from "../src/roles/master/local-cluster.ts";

const RAW_N = Number(process.env.RAW_N ?? 300);
const SIGNED_N = Number(process.env.SIGNED_N ?? 30);
const STEADY_S = Number(process.env.STEADY_S ?? 3);
const hex = (id: Identity) => Buffer.from(id.nodeId).toString("hex");
const te = new TextEncoder();

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}
const f = (x: number) => x.toFixed(2);

const lc = await LocalCluster.start();
const cleanups: (() => Promise<void>)[] = [];
try {
  const realm = await lc.newRealm("bench");
  const sys = await ControlConnection.connect({
    servers: lc.urls(),
    caPem: lc.trust.ca.certPem,
    credentials: await lc.systemCredentials(),
  });
  await pushAccountJwt(sys, realm.jwt, lc.trust.operator.publicKey, 4);
  await sys.close();

  const make = async (id: Identity, first: string, rate = { perSecond: 10_000, burst: 10_000 }) => {
    const connection = await ControlConnection.connect({
      servers: lc.urls(first),
      noRandomize: true,
      caPem: lc.trust.ca.certPem,
      credentials: await lc.credentials(realm.account, { permissions: nodePermissions(hex(id)) }),
      inboxPrefix: Subjects.inboxPrefix(hex(id)),
    });
    cleanups.push(() => connection.close());
    return new ControlChannel({
      identity: id,
      connection,
      sendRate: rate,
      receiveRate: { perSecond: 10_000, burst: 10_000 },
    });
  };
  const ids = { a: Identity.generate(), a2: Identity.generate(), b: Identity.generate() };
  const a = await make(ids.a, "A1");
  const a2 = await make(ids.a2, "A2");
  const b = await make(ids.b, "B1");
  for (const ch of [a, a2, b]) for (const id of Object.values(ids)) ch.directory.add(id.publicKeys);

  // Enveloped responders on each node's signalling subject; raw NATS echo responders (the baseline)
  // on their own connections next to them, with an unrestricted user.
  for (const [ch, id] of [
    [a2, ids.a2],
    [b, ids.b],
  ] as const) {
    ch.subscribe(Subjects.signal(hex(id)), (m) => m.body);
  }
  const rawConn = async (first: string) => {
    const c = await ControlConnection.connect({
      servers: lc.urls(first),
      noRandomize: true,
      caPem: lc.trust.ca.certPem,
      credentials: await lc.credentials(realm.account, { name: "raw" }),
    });
    cleanups.push(() => c.close());
    return c;
  };
  const rawA = await rawConn("A1");
  for (const [server, subject] of [
    ["A2", "bench.raw.a2"],
    ["B1", "bench.raw.b1"],
  ] as const) {
    const c = await rawConn(server);
    c.subscribe(subject, (m) => {
      if (m.reply) c.publish(m.reply, m.data);
    });
    await c.flush();
  }
  await Promise.all([a, a2, b].map((c) => c.connection.flush()));
  await Bun.sleep(500);

  const raw = async (subject: string) => {
    const xs: number[] = [];
    for (let i = 0; i < RAW_N; i++) {
      const t = performance.now();
      await rawA.request(subject, new Uint8Array([0, 1, 2, 3]), 2000);
      xs.push(performance.now() - t);
    }
    return xs;
  };
  const enveloped = async (to: Identity, sealed: boolean) => {
    const xs: number[] = [];
    for (let i = 0; i < SIGNED_N; i++) {
      const t = performance.now();
      await a.request(Subjects.signal(hex(to)), te.encode(`req ${i}`), {
        ...(sealed ? { peer: to.publicKeys } : { expectSender: hex(to) }),
        timeoutMs: 5000,
      });
      xs.push(performance.now() - t);
    }
    return xs;
  };
  const rawIn = await raw("bench.raw.a2");
  const rawX = await raw("bench.raw.b1");
  const sigIn = await enveloped(ids.a2, false);
  const sigX = await enveloped(ids.b, false);
  const sealX = await enveloped(ids.b, true);
  console.log(
    `raw nats request/reply     in-cluster p50 ${f(pct(rawIn, 50))} ms p99 ${f(pct(rawIn, 99))} | cross-gateway p50 ${f(pct(rawX, 50))} ms p99 ${f(pct(rawX, 99))}`,
  );
  console.log(
    `signed request/reply       in-cluster p50 ${f(pct(sigIn, 50))} ms | cross-gateway p50 ${f(pct(sigX, 50))} ms p99 ${f(pct(sigX, 99))}`,
  );
  console.log(
    `sealed request/reply       cross-gateway p50 ${f(pct(sealX, 50))} ms p99 ${f(pct(sealX, 99))}`,
  );

  // Steady state: one node broadcasting presence for STEADY_S seconds, received across the gateway.
  const steady = async (sender: ControlChannel, senderId: Identity, limited: boolean) => {
    let got = 0;
    const stop = b.subscribe(Subjects.presence(hex(senderId)), (m) => {
      if (new TextDecoder().decode(m.body) === "presence") got++;
    });
    await b.connection.flush();
    await Bun.sleep(300);
    // Drain the burst allowance first (signing is slow, so the bucket refills while bursting).
    const w0 = performance.now();
    while (limited && performance.now() - w0 < 3000) {
      await sender.publish(Subjects.presence(hex(senderId)), te.encode("burst"));
    }
    got = 0;
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < STEADY_S * 1000) {
      await sender.publish(Subjects.presence(hex(senderId)), te.encode("presence"));
      sent++;
    }
    await Bun.sleep(300);
    stop();
    const secs = (performance.now() - t0 - 300) / 1000;
    // burst tokens were spent before t0, so this is the steady rate
    return { sent: sent / secs, got: got / secs };
  };
  const limitedId = Identity.generate();
  const limited = await make(limitedId, "A1", { perSecond: 10, burst: 20 });
  b.directory.add(limitedId.publicKeys);
  const lim = await steady(limited, limitedId, true);
  const unl = await steady(a, ids.a, false);
  console.log(`steady state (rate limit 10/s, burst 20): sent ${f(lim.sent)}/s received ${f(lim.got)}/s`);
  console.log(`unlimited (signing-bound, one core):      sent ${f(unl.sent)}/s received ${f(unl.got)}/s`);
  const drops = b.drops.total() + a2.drops.total() + a.drops.total();
  console.log(
    [
      "bench=control",
      "transport=loopback_2x2_supercluster_mtls_jwt",
      `nats_raw_rr_in_cluster_p50_ms=${f(pct(rawIn, 50))}`,
      `nats_raw_rr_cross_gateway_p50_ms=${f(pct(rawX, 50))}`,
      `signed_rr_in_cluster_p50_ms=${f(pct(sigIn, 50))}`,
      `signed_rr_cross_gateway_p50_ms=${f(pct(sigX, 50))}`,
      `signed_rr_cross_gateway_p99_ms=${f(pct(sigX, 99))}`,
      `sealed_rr_cross_gateway_p50_ms=${f(pct(sealX, 50))}`,
      `steady_msgs_per_s_per_node=${f(lim.got)}`,
      `max_signed_msgs_per_s_per_node=${f(unl.got)}`,
      `ratio_signed_to_raw_cross_gateway=${f(pct(sigX, 50) / pct(rawX, 50))}`,
      `drops=${drops}`,
    ].join(" "),
  );
} finally {
  for (const c of cleanups) await c().catch(() => {});
  await lc.stop();
}
