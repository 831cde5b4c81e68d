import { describe, expect, test } from "bun:test";
import {
  COOKIE_REPLY_SIZE,
  COOKIE_SECRET_LIFETIME_MS,
  CookieChecker,
  cookieKey,
  mac1Key,
  mac1Of,
  openCookieReply,
  parseCookieReply,
  writeMac1,
  writeMac2,
} from "./cookie.ts";
import { CookieMalformed } from "./errors.ts";
import { encodeFragments } from "./fragment.ts";
import { bobCert, datagramsOf, deliver, NOW_MS, pair, SOURCE } from "./handshake.fixture.ts";
import { MsgType } from "./message-type.ts";
import { seededRng } from "./rng.ts";

describe("cookies under load", () => {
  test("an initiation without mac2 gets a cookie reply and costs no KEM work and no reassembly memory", () => {
    const { initiator, responder } = pair();
    const init = datagramsOf(initiator.start(NOW_MS));
    const outs = init.map((d) => responder.receive(d, SOURCE, NOW_MS, true));
    expect(outs[0]?.kind).toBe("send");
    for (const o of outs.slice(1)) expect(o.kind).toBe("dropped");
    expect(responder.stats.decapsulations).toBe(0);
    expect(responder.reassembly.bytes).toBe(0);
    expect(responder.stats.cookieReplies).toBe(1);
    const reply = datagramsOf(outs[0] as never)[0] as Uint8Array;
    expect(reply.length).toBe(COOKIE_REPLY_SIZE);
    expect(reply[0]).toBe(MsgType.CookieReply);

    // The initiator resends the same fragments, now with mac2; still under load, it succeeds.
    const withMac2 = datagramsOf(initiator.receive(reply, NOW_MS + 1));
    expect(withMac2.length).toBe(init.length);
    const done = deliver(withMac2, (d) => responder.receive(d, SOURCE, NOW_MS + 2, true));
    expect(done.kind).toBe("established");
    expect(responder.stats.decapsulations).toBe(1);
    if (done.kind === "established")
      expect(deliver(done.datagrams, (d) => initiator.receive(d, NOW_MS + 3)).kind).toBe("established");
  });

  test("a cookie is bound to the source address", () => {
    const { initiator, responder } = pair();
    const init = datagramsOf(initiator.start(NOW_MS));
    const reply = datagramsOf(
      responder.receive(init[0] as Uint8Array, SOURCE, NOW_MS, true),
    )[0] as Uint8Array;
    const withMac2 = datagramsOf(initiator.receive(reply, NOW_MS));
    const other = withMac2.map((d) => responder.receive(d, "198.18.0.99:7000", NOW_MS, true));
    expect(other[0]?.kind).toBe("send"); // a new cookie reply, no work
    expect(responder.stats.decapsulations).toBe(0);
    // and a second cookie reply for the same attempt is ignored by the initiator (no resend loop)
    expect(initiator.receive(reply, NOW_MS).kind).toBe("dropped");
  });

  test("not under load: mac2 must be absent (zero) or valid", () => {
    const { initiator, responder } = pair();
    const init = datagramsOf(initiator.start(NOW_MS));
    const bad = Uint8Array.from(init[0] as Uint8Array);
    bad[bad.length - 1] = 1;
    expect(responder.receive(bad, SOURCE, NOW_MS).kind).toBe("dropped");
    expect(responder.stats.dropped.mac2).toBe(1);
  });

  test("mac2 stays valid across one secret rotation, not two", () => {
    const rng = seededRng("cookie rotation");
    const checker = new CookieChecker(bobCert.publicKeys, rng, 0);
    const d = encodeFragments(MsgType.HandshakeInitiation, 7, new Uint8Array(100))[0] as Uint8Array;
    writeMac1(mac1Key(bobCert.publicKeys), d);
    const reply = parseCookieReply(checker.makeReply(d, SOURCE, 0));
    const cookie = openCookieReply(reply, cookieKey(bobCert.publicKeys), mac1Of(d));
    writeMac2(cookie, d);
    expect(checker.validMac2(d, SOURCE, 1000)).toBe(true);
    expect(checker.validMac2(d, SOURCE, COOKIE_SECRET_LIFETIME_MS + 1)).toBe(true);
    expect(checker.validMac2(d, SOURCE, 2 * COOKIE_SECRET_LIFETIME_MS + 2)).toBe(false);
  });

  test("cookie replies that are forged, truncated or for another fragment are refused", () => {
    const checker = new CookieChecker(bobCert.publicKeys, seededRng("c"), 0);
    const d = encodeFragments(MsgType.HandshakeInitiation, 7, new Uint8Array(100))[0] as Uint8Array;
    writeMac1(mac1Key(bobCert.publicKeys), d);
    const raw = checker.makeReply(d, SOURCE, 0);
    expect(() => parseCookieReply(raw.subarray(1))).toThrow(CookieMalformed);
    const flipped = Uint8Array.from(raw);
    flipped[40] = (flipped[40] as number) ^ 1;
    expect(() =>
      openCookieReply(parseCookieReply(flipped), cookieKey(bobCert.publicKeys), mac1Of(d)),
    ).toThrow(CookieMalformed);
    expect(() =>
      openCookieReply(parseCookieReply(raw), cookieKey(bobCert.publicKeys), new Uint8Array(16)),
    ).toThrow(CookieMalformed);
  });
});
