import { describe, expect, test } from "bun:test";
import { toHex } from "./_bytes.ts";
import { mac1Key, writeMac1 } from "./cookie.ts";
import {
  CertificateBadSignature,
  CertificateExpired,
  CertificateMissingTaint,
  CertificateNotYetValid,
  CertificateRevoked,
  CertificateUnknownIssuer,
  CertificateWrongRealm,
  HandshakeReplay,
  HandshakeTimeout,
} from "./errors.ts";
import {
  alice,
  aliceCert,
  bob,
  bobCert,
  datagramsOf,
  deliver,
  issue,
  local,
  NOW_MS,
  NOW_S,
  pair,
  policy,
  SOURCE,
} from "./handshake.fixture.ts";
import {
  HandshakeInitiator,
  HandshakeResponder,
  REKEY_ATTEMPT_TIME_MS,
  REKEY_TIMEOUT_MS,
} from "./handshake.ts";
import type { HandshakeOutput } from "./handshake-types.ts";
import { Identity } from "./identity.ts";
import { MsgType } from "./message-type.ts";
import { RevocationSet } from "./revocation.ts";
import { seededRng } from "./rng.ts";

function established(o: HandshakeOutput) {
  if (o.kind !== "established") throw new Error(`expected established, got ${o.kind} ${JSON.stringify(o)}`);
  return o;
}

describe("handshake round trip", () => {
  test("both sides derive matching SessionKeys and learn each other's certificate", () => {
    const { initiator, responder } = pair();
    const init = datagramsOf(initiator.start(NOW_MS));
    expect(init.length).toBe(8);
    for (const d of init) expect(d.length).toBeLessThanOrEqual(1200);
    const r = established(deliver(init, (d) => responder.receive(d, SOURCE, NOW_MS)));
    expect(r.datagrams.length).toBe(2);
    const i = established(deliver(r.datagrams, (d) => initiator.receive(d, NOW_MS + 5)));
    expect(toHex(i.keys.sendKey)).toBe(toHex(r.keys.recvKey));
    expect(toHex(i.keys.recvKey)).toBe(toHex(r.keys.sendKey));
    expect(toHex(i.keys.sendKey)).not.toBe(toHex(i.keys.recvKey));
    expect(i.keys.localIndex).toBe(r.keys.remoteIndex);
    expect(i.keys.remoteIndex).toBe(r.keys.localIndex);
    expect(i.keys.isInitiator).toBe(true);
    expect(r.keys.isInitiator).toBe(false);
    expect(toHex(i.keys.peerNodeId)).toBe(toHex(bob.nodeId));
    expect(toHex(r.keys.peerNodeId)).toBe(toHex(alice.nodeId));
    expect(toHex(r.peer.id)).toBe(toHex(aliceCert.id));
    expect(i.keys.establishedAt).toBe(NOW_MS + 5);
    expect(initiator.state).toBe("established");
    expect(responder.stats.decapsulations).toBe(1);
  });

  test("two handshakes give independent keys; fragments may arrive in any order", () => {
    const { initiator, responder } = pair();
    const first = datagramsOf(initiator.start(NOW_MS)).reverse();
    const r1 = established(deliver(first, (d) => responder.receive(d, SOURCE, NOW_MS)));
    const { initiator: again } = pair();
    const r2 = established(
      deliver(datagramsOf(again.start(NOW_MS + 1)), (d) => responder.receive(d, SOURCE, NOW_MS + 1)),
    );
    expect(toHex(r1.keys.sendKey)).not.toBe(toHex(r2.keys.sendKey));
  });

  test("a replayed initiation is refused (timestamp not newer)", () => {
    const { initiator, responder } = pair();
    const init = datagramsOf(initiator.start(NOW_MS));
    established(deliver(init, (d) => responder.receive(d, SOURCE, NOW_MS)));
    const again = deliver(init, (d) => responder.receive(d, SOURCE, NOW_MS + 10));
    expect(again.kind).toBe("rejected");
    if (again.kind === "rejected") expect(again.error).toBeInstanceOf(HandshakeReplay);
  });

  test("retransmits after REKEY_TIMEOUT with a fresh handshake id, gives up after REKEY_ATTEMPT_TIME", () => {
    const { initiator } = pair();
    const first = initiator.start(NOW_MS);
    const id1 = initiator.handshakeId;
    expect(first.kind).toBe("send");
    expect(initiator.tick(NOW_MS + 1000).kind).toBe("pending");
    const retry = initiator.tick(NOW_MS + REKEY_TIMEOUT_MS + 400);
    expect(retry.kind).toBe("send");
    expect(initiator.handshakeId).not.toBe(id1);
    let t = NOW_MS;
    let last: HandshakeOutput = retry;
    while (last.kind !== "failed") {
      t += REKEY_TIMEOUT_MS + 400;
      last = initiator.tick(t);
      expect(t - NOW_MS).toBeLessThanOrEqual(REKEY_ATTEMPT_TIME_MS + REKEY_TIMEOUT_MS + 400);
    }
    expect(last.error).toBeInstanceOf(HandshakeTimeout);
    expect(initiator.state).toBe("failed");
  });
});

describe("single-byte tampering is rejected", () => {
  // Every byte of every fragment, delivered as is: mac1 (or framing) must catch it.
  test("every byte position of every initiation and response fragment (raw flips)", () => {
    const { initiator, responder } = pair();
    const init = datagramsOf(initiator.start(NOW_MS));
    let checked = 0;
    for (let f = 0; f < init.length; f++) {
      const frag = init[f] as Uint8Array;
      for (let i = 0; i < frag.length; i++) {
        const bad = Uint8Array.from(frag);
        bad[i] = (bad[i] as number) ^ 0x01;
        const out = responder.receive(bad, `flip-${f}-${i}`, NOW_MS);
        expect(out.kind).toBe("dropped");
        checked++;
      }
    }
    expect(responder.reassembly.bytes).toBe(0);
    const r = established(deliver(init, (d) => responder.receive(d, SOURCE, NOW_MS)));
    for (let f = 0; f < r.datagrams.length; f++) {
      const frag = r.datagrams[f] as Uint8Array;
      for (let i = 0; i < frag.length; i++) {
        const bad = Uint8Array.from(frag);
        bad[i] = (bad[i] as number) ^ 0x80;
        expect(initiator.receive(bad, NOW_MS, `flip-${f}-${i}`).kind).toBe("dropped");
        checked++;
      }
    }
    expect(checked).toBe(
      init.reduce((n, d) => n + d.length, 0) + r.datagrams.reduce((n, d) => n + d.length, 0),
    );
    established(deliver(r.datagrams, (d) => initiator.receive(d, NOW_MS)));
  });

  // An attacker who knows the receiver's public keys can recompute mac1; the cryptography must
  // still refuse. Every header byte of every fragment, and body bytes at a stride (dense sample).
  const STRIDE = 13;
  test(`initiation: flips with a recomputed mac1 (all header bytes, every ${STRIDE}th body byte)`, () => {
    const { initiator } = pair();
    const init = datagramsOf(initiator.start(NOW_MS));
    const key = mac1Key(bobCert.publicKeys);
    let samples = 0;
    for (let f = 0; f < init.length; f++) {
      const frag = init[f] as Uint8Array;
      for (let i = 0; i < frag.length - 32; i += i < 12 ? 1 : STRIDE) {
        const bad = init.map((d) => Uint8Array.from(d));
        const g = bad[f] as Uint8Array;
        g[i] = (g[i] as number) ^ 0x04;
        writeMac1(key, g);
        const responder = new HandshakeResponder(local(bob, bobCert), NOW_MS);
        const out = deliver(bad, (d) => responder.receive(d, SOURCE, NOW_MS));
        expect(out.kind).not.toBe("established");
        samples++;
      }
    }
    expect(samples).toBeGreaterThan(700);
    const fresh = new HandshakeResponder(local(bob, bobCert), NOW_MS);
    established(deliver(init, (d) => fresh.receive(d, SOURCE, NOW_MS)));
  }, 60_000);

  test("response: flips with a recomputed mac1 (all header bytes, every 4th body byte)", () => {
    const { initiator, responder } = pair();
    const r = established(
      deliver(datagramsOf(initiator.start(NOW_MS)), (d) => responder.receive(d, SOURCE, NOW_MS)),
    );
    const key = mac1Key(aliceCert.publicKeys);
    let samples = 0;
    for (let f = 0; f < r.datagrams.length; f++) {
      const frag = r.datagrams[f] as Uint8Array;
      for (let i = 0; i < frag.length - 32; i += i < 12 ? 1 : 4) {
        const bad = r.datagrams.map((d) => Uint8Array.from(d));
        const g = bad[f] as Uint8Array;
        g[i] = (g[i] as number) ^ 0x10;
        writeMac1(key, g);
        const out = deliver(bad, (d) => initiator.receive(d, NOW_MS, `sample-${samples}`));
        expect(out.kind).not.toBe("established");
        samples++;
      }
    }
    expect(samples).toBeGreaterThan(550);
    established(deliver(r.datagrams, (d) => initiator.receive(d, NOW_MS)));
  }, 60_000);
});

describe("peer certificate policy", () => {
  const cases: [
    string,
    () => ReturnType<typeof issue>,
    new (...a: never[]) => Error,
    Partial<ReturnType<typeof policy>>?,
  ][] = [
    ["expired", () => issue(alice, { notBefore: NOW_S - 7200, notAfter: NOW_S - 1 }), CertificateExpired],
    [
      "not yet valid",
      () => issue(alice, { notBefore: NOW_S + 60, notAfter: NOW_S + 3600 }),
      CertificateNotYetValid,
    ],
    ["wrong realm", () => issue(alice, { realm: "other-realm" }), CertificateWrongRealm],
    [
      "missing taint",
      () => issue(alice, { taints: ["db"] }),
      CertificateMissingTaint,
      { requiredTaints: ["web"] },
    ],
    [
      "unknown issuer",
      () => issue(alice, {}, Identity.generate(seededRng("rogue guardian"))),
      CertificateUnknownIssuer,
    ],
  ];
  for (const [name, make, errorClass, extra] of cases) {
    test(`responder refuses an initiator whose certificate is ${name}; initiator refuses such a responder`, () => {
      const cert = make();
      const initiator = new HandshakeInitiator(local(alice, cert), bobCert.bytes, NOW_MS);
      const responder = new HandshakeResponder(local(bob, bobCert, { trust: policy(extra) }), NOW_MS);
      const out = deliver(datagramsOf(initiator.start(NOW_MS)), (d) => responder.receive(d, SOURCE, NOW_MS));
      expect(out.kind).toBe("rejected");
      if (out.kind === "rejected") expect(out.error).toBeInstanceOf(errorClass);
      expect(
        () => new HandshakeInitiator(local(bob, bobCert, { trust: policy(extra) }), cert.bytes, NOW_MS),
      ).toThrow(errorClass);
    });
  }

  test("revoked (by node id) and bad signature are refused with their own errors", () => {
    const revoked = new RevocationSet();
    revoked.revokeNode(alice.nodeId);
    const { initiator } = pair();
    const responder = new HandshakeResponder(local(bob, bobCert, { trust: policy({ revoked }) }), NOW_MS);
    const out = deliver(datagramsOf(initiator.start(NOW_MS)), (d) => responder.receive(d, SOURCE, NOW_MS));
    expect(out.kind === "rejected" && out.error instanceof CertificateRevoked).toBe(true);

    const forged = Uint8Array.from(bobCert.bytes);
    forged[forged.length - 100] = (forged[forged.length - 100] as number) ^ 1; // inside the ML-DSA half
    expect(() => new HandshakeInitiator(local(alice, aliceCert), forged, NOW_MS)).toThrow(
      CertificateBadSignature,
    );
  });

  test("a responder revoked while the handshake is in flight is refused at completion", () => {
    const revoked = new RevocationSet();
    const initiator = new HandshakeInitiator(
      local(alice, aliceCert, { trust: policy({ revoked }) }),
      bobCert.bytes,
      NOW_MS,
    );
    const responder = new HandshakeResponder(local(bob, bobCert), NOW_MS);
    const r = established(
      deliver(datagramsOf(initiator.start(NOW_MS)), (d) => responder.receive(d, SOURCE, NOW_MS)),
    );
    revoked.revokeCertificate(bobCert.id);
    const out = deliver(r.datagrams, (d) => initiator.receive(d, NOW_MS));
    expect(out.kind === "rejected" && out.error instanceof CertificateRevoked).toBe(true);
  });

  test("datagrams of other types are dropped, not thrown", () => {
    const { initiator, responder } = pair();
    initiator.start(NOW_MS);
    for (const t of [0, MsgType.Transport, MsgType.PathCell, 200]) {
      const d = new Uint8Array(100).fill(7);
      d[0] = t;
      expect(responder.receive(d, SOURCE, NOW_MS).kind).toBe("dropped");
      expect(initiator.receive(d, NOW_MS).kind).toBe("dropped");
    }
  });
});
