/**
 * Builds the handshake-plane test vectors from fixed seeds. `bun run src/anchor/vectors/generate.ts`
 * writes them to JSON; vectors.test.ts rebuilds them and checks byte equality, and independently
 * replays the stored messages through fresh parsers and state machines.
 */
import { toHex } from "../_bytes.ts";
import { nodeAddress6, realmPrefix6 } from "../address6.ts";
import { issueCertificate } from "../certificate.ts";
import { CertificateCache } from "../certificate-verify.ts";
import { HandshakeInitiator } from "../handshake-initiator.ts";
import { HandshakeResponder } from "../handshake-responder.ts";
import { type HandshakeLocal, type HandshakeOutput, TimestampSource } from "../handshake-types.ts";
import { Identity } from "../identity.ts";
import { trustedIssuers } from "../issuer.ts";
import { RevocationKind, RevocationSet, signRevocationList } from "../revocation.ts";
import { seededRng } from "../rng.ts";

export const VECTOR_NOW_MS = 1_767_225_600_000; // 2026-01-01T00:00:00Z
export const VECTOR_REALM = "vector-realm";
export const VECTOR_SOURCE = "198.18.0.1:51820";
const SIG_RANDOM = new Uint8Array(32).fill(0x5a);

export function vectorIdentities() {
  return {
    guardian: Identity.generate(seededRng("veilnet vector guardian")),
    initiator: Identity.generate(seededRng("veilnet vector initiator")),
    responder: Identity.generate(seededRng("veilnet vector responder")),
  };
}

export function vectorCertificates(ids = vectorIdentities()) {
  const s = VECTOR_NOW_MS / 1000;
  const base = { realm: VECTOR_REALM, notBefore: s - 3600, notAfter: s + 86_400 };
  return {
    initiator: issueCertificate(
      ids.guardian,
      { ...base, publicKeys: ids.initiator.publicKeys, ipv4: "100.64.0.1", taints: ["edge", "web"] },
      SIG_RANDOM,
    ),
    responder: issueCertificate(
      ids.guardian,
      { ...base, publicKeys: ids.responder.publicKeys, ipv4: "100.64.0.2" },
      SIG_RANDOM,
    ),
  };
}

export function vectorLocals(ids = vectorIdentities(), certs = vectorCertificates(ids)) {
  const trust = () => ({
    realmKeys: trustedIssuers(ids.guardian),
    realm: VECTOR_REALM,
    revoked: new RevocationSet(),
    cache: new CertificateCache(),
  });
  const initiator: HandshakeLocal = {
    identity: ids.initiator,
    certificate: certs.initiator,
    trust: trust(),
    rng: seededRng("veilnet vector initiator rng"),
    timestamps: new TimestampSource(),
  };
  const responder: HandshakeLocal = {
    identity: ids.responder,
    certificate: certs.responder,
    trust: trust(),
    rng: seededRng("veilnet vector responder rng"),
    timestamps: new TimestampSource(),
  };
  return { initiator, responder };
}

const hex = (ds: Uint8Array[]) => ds.map(toHex);
function datagrams(o: HandshakeOutput): Uint8Array[] {
  if (o.kind !== "send" && o.kind !== "established")
    throw new Error(`vector generation: unexpected ${o.kind}`);
  return o.datagrams;
}

/** Every vector file's content, keyed by file name. */
export function buildVectors(): Record<string, unknown> {
  const ids = vectorIdentities();
  const certs = vectorCertificates(ids);
  const locals = vectorLocals(ids, certs);
  const now = VECTOR_NOW_MS;
  const secrets = {
    guardian_secret: toHex(ids.guardian.exportSecret()),
    initiator_secret: toHex(ids.initiator.exportSecret()),
    responder_secret: toHex(ids.responder.exportSecret()),
  };

  const initiator = new HandshakeInitiator(locals.initiator, certs.responder.bytes, now);
  const responder = new HandshakeResponder(locals.responder, now);
  const first = datagrams(initiator.start(now));
  // Under load: fragment 0 without mac2 earns a cookie reply; the initiator resends with mac2.
  const cookieReply = datagrams(
    responder.receive(first[0] as Uint8Array, VECTOR_SOURCE, now, true),
  )[0] as Uint8Array;
  const withMac2 = datagrams(initiator.receive(cookieReply, now + 1));
  let out: HandshakeOutput = { kind: "pending" };
  for (const d of withMac2) out = responder.receive(d, VECTOR_SOURCE, now + 2, true);
  if (out.kind !== "established") throw new Error("vector generation: responder did not establish");
  const response = out.datagrams;
  let fin: HandshakeOutput = { kind: "pending" };
  for (const d of response) fin = initiator.receive(d, now + 3);
  if (fin.kind !== "established") throw new Error("vector generation: initiator did not establish");

  const revocation = signRevocationList(
    ids.guardian,
    {
      realm: VECTOR_REALM,
      issuedAt: now / 1000,
      sequence: 7,
      entries: [
        { kind: RevocationKind.Node, id: ids.initiator.nodeId, until: Number.POSITIVE_INFINITY },
        { kind: RevocationKind.Certificate, id: certs.responder.id, until: certs.responder.notAfter },
      ],
    },
    SIG_RANDOM,
  );

  const common = {
    now_ms: now,
    realm: VECTOR_REALM,
    source: VECTOR_SOURCE,
    ...secrets,
    rng: "seededRng(seed): block i = SHA-256(utf8(seed) || u32le(i)), concatenated",
    initiator_rng_seed: "veilnet vector initiator rng",
    responder_rng_seed: "veilnet vector responder rng",
  };
  return {
    "certificate.json": {
      description: "Anchor certificates issued by the vector Guardian key (ML-DSA hedge = 32 bytes of 0x5a).",
      ...secrets,
      realm: VECTOR_REALM,
      realm_prefix6: realmPrefix6(VECTOR_REALM),
      certificates: [certs.initiator, certs.responder].map((c) => ({
        node_id: toHex(c.nodeId),
        ipv6: nodeAddress6(VECTOR_REALM, c.nodeId),
        taints: c.taints,
        not_before: c.notBefore,
        not_after: c.notAfter,
        id: toHex(c.id),
        bytes: toHex(c.bytes),
      })),
    },
    "revocation-list.json": {
      description: "A signed revocation list: node id of the initiator, certificate id of the responder.",
      ...secrets,
      bytes: toHex(revocation),
    },
    "handshake-initiation.json": {
      description:
        "HandshakeInitiation fragments: first attempt without mac2, then the same fragments with mac2 after the cookie reply.",
      ...common,
      handshake_id: initiator.handshakeId,
      fragments_without_mac2: hex(first),
      fragments_with_mac2: hex(withMac2),
    },
    "cookie-reply.json": {
      description: "The responder's cookie reply to fragment 0 of the initiation, sent under load.",
      ...common,
      answers_fragment: toHex(first[0] as Uint8Array),
      bytes: toHex(cookieReply),
    },
    "handshake-response.json": {
      description: "HandshakeResponse fragments and the session keys both sides derive.",
      ...common,
      fragments: hex(response),
      initiator_keys: keysJson(fin.keys),
      responder_keys: keysJson(out.keys),
    },
  };
}

function keysJson(k: { localIndex: number; remoteIndex: number; sendKey: Uint8Array; recvKey: Uint8Array }) {
  return {
    local_index: k.localIndex,
    remote_index: k.remoteIndex,
    send_key: toHex(k.sendKey),
    recv_key: toHex(k.recvKey),
  };
}
