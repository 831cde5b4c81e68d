import { describe, expect, it } from "bun:test";
import { Identity, verifyHybrid } from "../anchor/identity.ts";
import { DropReason } from "./drops.ts";
import { encodeSignedRegion, OFF_ISSUED, parseEnvelope, SIGNATURE_CONTEXT } from "./envelope.ts";
import { Inbound } from "./inbound.ts";
import { KeyDirectory } from "./key-directory.ts";
import { buildEnvelope } from "./outbound.ts";

const alice = Identity.generate();
const bob = Identity.generate();
const mallory = Identity.generate();
const bobId = () => ({ nodeId: bob.nodeId, keys: bob.publicKeys });

function receiver(
  who: Identity,
  opts: { now?: () => number; rate?: { perSecond: number; burst: number } } = {},
) {
  const dir = new KeyDirectory();
  dir.add(alice.publicKeys);
  dir.add(mallory.publicKeys);
  return new Inbound({
    identity: who,
    directory: dir,
    ...(opts.now ? { clock: opts.now } : {}),
    ...(opts.rate ? { receiveRate: opts.rate } : {}),
  });
}

describe("control inbound", () => {
  it("accepts a signed broadcast once, then counts the replay", () => {
    const rx = receiver(bob);
    const env = buildEnvelope(alice, { topic: "vn.presence.x", body: new Uint8Array([1, 2, 3]) });
    const got = rx.accept(env.bytes, "vn.presence.x");
    expect(got?.senderId).toBe(Buffer.from(alice.nodeId).toString("hex"));
    expect([...(got?.body ?? [])]).toEqual([1, 2, 3]);
    expect(rx.accept(env.bytes, "vn.presence.x")).toBeNull();
    expect(rx.drops.get(DropReason.Replayed)).toBe(1);
  });

  it("its split signature check agrees with verifyHybrid", () => {
    const env = buildEnvelope(alice, { topic: "t", body: new Uint8Array(10) });
    const p = parseEnvelope(env.bytes)!;
    expect(
      verifyHybrid(p.signature, p.signed, SIGNATURE_CONTEXT, alice.ed25519Public, alice.mldsa65Public),
    ).toBe(true);
  });

  it("counts forged, wrong-topic, expired, malformed and unknown-sender messages", () => {
    let now = Date.now();
    const rx = receiver(bob, { now: () => now });
    const env = buildEnvelope(alice, { topic: "a", body: new Uint8Array(8), nowMs: now, ttlMs: 1000 });
    const flipped = Uint8Array.from(env.bytes);
    flipped[flipped.length - 10]! ^= 1; // ML-DSA half
    expect(rx.accept(flipped, "a")).toBeNull();
    const bodyFlip = Uint8Array.from(env.bytes);
    bodyFlip[110]! ^= 1;
    expect(rx.accept(bodyFlip, "a")).toBeNull();
    expect(rx.drops.get(DropReason.Forged)).toBe(2);
    expect(rx.accept(env.bytes, "b")).toBeNull();
    expect(rx.drops.get(DropReason.Forged)).toBe(3);
    now += 1000;
    expect(rx.accept(env.bytes, "a")).toBeNull();
    expect(rx.drops.get(DropReason.Expired)).toBe(1);
    expect(rx.accept(new Uint8Array(50), "a")).toBeNull();
    const badTime = Uint8Array.from(env.bytes);
    badTime[OFF_ISSUED] = 0xff;
    expect(rx.accept(badTime, "a")).toBeNull();
    expect(rx.drops.get(DropReason.Malformed)).toBe(2);
    const stranger = buildEnvelope(Identity.generate(), { topic: "a", body: new Uint8Array(1), nowMs: now });
    expect(rx.accept(stranger.bytes, "a")).toBeNull();
    expect(rx.drops.get(DropReason.UnknownSender)).toBe(1);
  });

  it("ignores its own broadcasts delivered back to it without counting them as dropped", () => {
    const self = Identity.generate(); // not in the receiver's directory, like a node's own keys
    const rx = receiver(self);
    const own = buildEnvelope(self, { topic: "a", body: new Uint8Array(4) });
    expect(rx.accept(own.bytes, "a")).toBeNull();
    expect(rx.drops.total()).toBe(0);
  });

  it("a message signed by a known key but claiming another sender is forged", () => {
    const rx = receiver(bob);
    const env = buildEnvelope(mallory, { topic: "a", body: new Uint8Array(4) });
    const p = parseEnvelope(env.bytes)!;
    const region = Uint8Array.from(p.signed);
    region.set(alice.nodeId, 2); // claim to be alice, keep mallory's signature
    const spoof = new Uint8Array(region.length + p.signature.length);
    spoof.set(region);
    spoof.set(p.signature, region.length);
    expect(rx.accept(spoof, "a")).toBeNull();
    expect(rx.drops.get(DropReason.Forged)).toBe(1);
  });

  it("seals to the recipient: only it opens; others count not-for-me; re-signing is forged", () => {
    const rxBob = receiver(bob);
    const rxMallory = receiver(mallory);
    const secret = new TextEncoder().encode("candidate 198.18.0.7:51820");
    const env = buildEnvelope(alice, { topic: "vn.signal.b", body: secret, recipient: bobId() });
    expect(Buffer.from(env.bytes).includes(Buffer.from(secret))).toBe(false);
    expect(rxMallory.accept(env.bytes, "vn.signal.b")).toBeNull();
    expect(rxMallory.drops.get(DropReason.NotForMe)).toBe(1);
    const got = rxBob.accept(env.bytes, "vn.signal.b");
    expect(new TextDecoder().decode(got!.body)).toBe("candidate 198.18.0.7:51820");
    expect(got!.sealed).toBe(true);
    // Mallory takes alice's sealed body and signs it as her own message to bob.
    const p = parseEnvelope(env.bytes)!;
    const stolen = Uint8Array.from(p.header);
    stolen.set(mallory.nodeId, 2);
    const signed = encodeSignedRegion(stolen, p.body);
    const sig = mallory.sign(signed, SIGNATURE_CONTEXT);
    const resent = new Uint8Array(signed.length + sig.length);
    resent.set(signed);
    resent.set(sig, signed.length);
    expect(rxBob.accept(resent, "vn.signal.b")).toBeNull();
    expect(rxBob.drops.get(DropReason.Forged)).toBe(1);
  });

  it("limits each sender's receive rate after the cheap signature check", () => {
    const rx = receiver(bob, { rate: { perSecond: 1, burst: 2 } });
    const msgs = [0, 1, 2].map(() => buildEnvelope(alice, { topic: "a", body: new Uint8Array(1) }));
    expect(msgs.map((m) => rx.accept(m.bytes, "a") !== null)).toEqual([true, true, false]);
    expect(rx.drops.get(DropReason.RateLimited)).toBe(1);
  });
});
