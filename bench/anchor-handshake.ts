/**
 * Handshake benchmark (the handshake half of bench/anchor): full hybrid handshakes run in one
 * thread, both sides, so CPU time per handshake counts initiator and responder work together.
 *
 *   steady   certificates already in both sides' verified-certificate caches (rekeys, known peers)
 *   first    empty caches: each side also verifies the other's ML-DSA-65 + Ed25519 certificate
 *
 * Bytes on the wire are UDP payload bytes, to compare with WireGuard's 148-byte initiation and
 * 92-byte response. Prints one `key=value` summary line last.
 */
import { issueCertificate } from "../src/anchor/certificate.ts";
import { CertificateCache } from "../src/anchor/certificate-verify.ts";
import { HandshakeInitiator, HandshakeResponder } from "../src/anchor/handshake.ts";
import { type HandshakeLocal, type HandshakeOutput, TimestampSource } from "../src/anchor/handshake-types.ts";
import { Identity } from "../src/anchor/identity.ts";
import { trustedIssuers } from "../src/anchor/issuer.ts";
import { RevocationSet } from "../src/anchor/revocation.ts";

const WIREGUARD_INITIATION_BYTES = 148;
const WIREGUARD_RESPONSE_BYTES = 92;
const SOURCE = "198.18.0.1:51820";

interface Setup {
  alice: HandshakeLocal;
  bob: HandshakeLocal;
}

function setup(): Setup {
  const guardian = Identity.generate();
  const a = Identity.generate();
  const b = Identity.generate();
  const s = Math.floor(Date.now() / 1000);
  const req = { realm: "bench", notBefore: s - 60, notAfter: s + 3600 };
  const ca = issueCertificate(guardian, {
    ...req,
    publicKeys: a.publicKeys,
    ipv4: "100.64.0.1",
    taints: ["web"],
  });
  const cb = issueCertificate(guardian, {
    ...req,
    publicKeys: b.publicKeys,
    ipv4: "100.64.0.2",
    taints: ["web"],
  });
  const trust = () => ({
    realmKeys: trustedIssuers(guardian),
    realm: "bench",
    revoked: new RevocationSet(),
    cache: new CertificateCache(),
  });
  return {
    alice: { identity: a, certificate: ca, trust: trust(), timestamps: new TimestampSource() },
    bob: { identity: b, certificate: cb, trust: trust(), timestamps: new TimestampSource() },
  };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface One {
  initiatorMs: number;
  responderMs: number;
  initBytes: number;
  initDatagrams: number;
  respBytes: number;
  respDatagrams: number;
}

/** One complete handshake; times each side's CPU separately. */
function handshake(s: Setup, responder: HandshakeResponder, fresh: boolean): One {
  const now = Date.now();
  const alice = fresh ? { ...s.alice, trust: { ...s.alice.trust, cache: new CertificateCache() } } : s.alice;
  let t = cpuMs();
  const initiator = new HandshakeInitiator(alice, s.bob.certificate.bytes, now);
  const start = initiator.start(now);
  let initiatorMs = cpuMs() - t;
  if (start.kind !== "send") throw new Error("no initiation");
  t = cpuMs();
  let out: HandshakeOutput = { kind: "pending" };
  for (const d of start.datagrams) out = responder.receive(d, SOURCE, now);
  const responderMs = cpuMs() - t;
  if (out.kind !== "established") throw new Error(`responder: ${out.kind}`);
  t = cpuMs();
  let fin: HandshakeOutput = { kind: "pending" };
  for (const d of out.datagrams) fin = initiator.receive(d, now);
  initiatorMs += cpuMs() - t;
  if (fin.kind !== "established") throw new Error(`initiator: ${fin.kind}`);
  return {
    initiatorMs,
    responderMs,
    initBytes: start.datagrams.reduce((n, d) => n + d.length, 0),
    initDatagrams: start.datagrams.length,
    respBytes: out.datagrams.reduce((n, d) => n + d.length, 0),
    respDatagrams: out.datagrams.length,
  };
}

function run(s: Setup, n: number, fresh: boolean) {
  const responder = new HandshakeResponder(s.bob, Date.now());
  const bobFresh = fresh
    ? () =>
        new HandshakeResponder(
          { ...s.bob, trust: { ...s.bob.trust, cache: new CertificateCache() } },
          Date.now(),
        )
    : () => responder;
  let initiatorMs = 0;
  let responderMs = 0;
  let last: One | undefined;
  const wall = performance.now();
  for (let i = 0; i < n; i++) {
    last = handshake(s, bobFresh(), fresh);
    initiatorMs += last.initiatorMs;
    responderMs += last.responderMs;
  }
  const wallMs = performance.now() - wall;
  return {
    initiatorMs: initiatorMs / n,
    responderMs: responderMs / n,
    wallMs: wallMs / n,
    last: last as One,
  };
}

/** Runs the handshake benchmark; returns the summary metrics. */
export async function benchHandshake(
  iterations = Number(process.env.ANCHOR_BENCH_HANDSHAKES ?? 200),
): Promise<Record<string, number>> {
  const s = setup();
  run(s, 20, false); // warm up the JIT
  const steady = run(s, iterations, false);
  const first = run(s, Math.max(20, Math.floor(iterations / 4)), true);
  const perHandshakeMs = steady.initiatorMs + steady.responderMs;
  const firstMs = first.initiatorMs + first.responderMs;
  const wire = steady.last.initBytes + steady.last.respBytes;
  const wg = WIREGUARD_INITIATION_BYTES + WIREGUARD_RESPONSE_BYTES;
  return {
    handshake_per_s_per_core: round(1000 / perHandshakeMs),
    handshake_first_contact_per_s_per_core: round(1000 / firstMs),
    handshake_cpu_ms: round(perHandshakeMs, 3),
    handshake_initiator_cpu_ms: round(steady.initiatorMs, 3),
    handshake_responder_cpu_ms: round(steady.responderMs, 3),
    handshake_first_contact_cpu_ms: round(firstMs, 3),
    handshake_wall_ms: round(steady.wallMs, 3),
    handshake_init_bytes: steady.last.initBytes,
    handshake_init_datagrams: steady.last.initDatagrams,
    handshake_resp_bytes: steady.last.respBytes,
    handshake_resp_datagrams: steady.last.respDatagrams,
    handshake_wire_bytes: wire,
    wireguard_handshake_bytes: wg,
    handshake_bytes_vs_wireguard: round(wire / wg, 1),
  };
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

if (import.meta.main) {
  const r = await benchHandshake();
  console.log(
    Object.entries(r)
      .map(([k, v]) => `${k}=${v}`)
      .join(" "),
  );
}
