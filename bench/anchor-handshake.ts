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
import { EphemeralMlKem768, Identity, MlKemRecipient, mlKemEncapsulate } from "../src/anchor/identity.ts";
import { trustedIssuers } from "../src/anchor/issuer.ts";
import { RevocationSet } from "../src/anchor/revocation.ts";

const WIREGUARD_INITIATION_BYTES = 148;
const WIREGUARD_RESPONSE_BYTES = 92;
/** ML-KEM-768 keygen / encaps / decaps on a quiet machine (DESIGN.md, measured here): the floor in ms. */
const QUIET_KEM_FLOOR_MS = 0.47 + 3 * 0.56 + 3 * 0.69;
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

/**
 * CPU of the seven ML-KEM operations one handshake needs (1 keygen, 3 encapsulations, 3
 * decapsulations), measured in the same run: the floor that contention inflates alike.
 */
function kemFloorMs(n: number): number {
  const id = Identity.generate();
  const recipient = new MlKemRecipient(id.publicKeys.mlkem768);
  const start = cpuMs();
  for (let i = 0; i < n; i++) {
    const e = new EphemeralMlKem768();
    const a = mlKemEncapsulate(e.publicKey);
    const b = recipient.encapsulate();
    const c = recipient.encapsulate();
    e.decapsulate(a.cipherText);
    id.decapsulate(b.cipherText);
    id.decapsulate(c.cipherText);
  }
  return (cpuMs() - start) / n;
}

/** Runs the handshake benchmark; returns the summary metrics. */
export async function benchHandshake(
  iterations = Number(process.env.ANCHOR_BENCH_HANDSHAKES ?? 200),
): Promise<Record<string, number>> {
  const s = setup();
  run(s, 20, false); // warm up the JIT
  const steady = run(s, iterations, false);
  const first = run(s, Math.max(20, Math.floor(iterations / 4)), true);
  const floor = kemFloorMs(Math.max(20, Math.floor(iterations / 4)));
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
    kem_floor_cpu_ms: round(floor, 3),
    handshake_cpu_over_kem_floor: round(perHandshakeMs / floor, 2),
    // Estimate, not a measurement: this run's overhead ratio applied to quiet-machine ML-KEM timings.
    handshake_per_s_projected_quiet: round(1000 / ((QUIET_KEM_FLOOR_MS * perHandshakeMs) / floor)),
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
