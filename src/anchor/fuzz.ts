/**
 * Fuzzer for every handshake-plane parser: certificate decode, revocation list decode, fragment
 * header + reassembly, handshake bodies, cookie replies, and the two state machines fed whole
 * datagrams. Inputs are random bytes or mutations of valid messages (bit flips, byte sets,
 * truncation, extension, splices, boundary values); a share of mutated fragments get a correct
 * mac1 so they reach reassembly and, when complete, the KEM and AEAD steps.
 *
 * Passes when parsers throw nothing but AnchorError subclasses, the state machines throw nothing
 * at all, and the heap after a forced GC is flat.
 *
 *   bun run src/anchor/fuzz.ts --iterations 1000000 [--seed 1]
 */
import { parseArgs } from "node:util";
import { decodeCertificate } from "./certificate.ts";
import { verifyCertificate } from "./certificate-verify.ts";
import { cookieKey, mac1Key, openCookieReply, parseCookieReply, writeMac1 } from "./cookie.ts";
import { AnchorError } from "./errors.ts";
import { parseFragment } from "./fragment.ts";
import { Reassembler } from "./fragment-reassembly.ts";
import {
  alice,
  aliceCert,
  bob,
  bobCert,
  datagramsOf,
  deliver,
  guardian,
  local,
  NOW_MS,
  NOW_S,
  pair,
  policy,
  REALM,
} from "./handshake.fixture.ts";
import { parseInitiation, parseResponse } from "./handshake-messages.ts";
import { HandshakeResponder } from "./handshake-responder.ts";
import { decodeRevocationList, RevocationKind, signRevocationList } from "./revocation.ts";

export interface FuzzReport {
  iterations: number;
  perTarget: Record<string, number>;
  typedErrors: number;
  accepted: number;
  deepHandshakes: number;
  failures: string[];
  heapBeforeBytes: number;
  /** Heap after 10% of the iterations (caches and JIT warm), the baseline for flatness. */
  heapWarmBytes: number;
  heapAfterBytes: number;
  reassemblyBytesMax: number;
  seconds: number;
}

/** Small fast PRNG (xorshift32): reproducible mutations, not for keys. */
class Prng {
  constructor(private s: number) {
    if (this.s === 0) this.s = 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

function mutate(p: Prng, input: Uint8Array): Uint8Array {
  let b = Uint8Array.from(input);
  const rounds = 1 + p.below(4);
  for (let r = 0; r < rounds; r++) {
    switch (p.below(8)) {
      case 0:
      case 1:
        if (b.length) flipBit(b, p.below(b.length), p.below(8));
        break;
      case 2:
        if (b.length) b[p.below(b.length)] = [0, 0xff, 0x7f, 0x80, 1][p.below(5)] as number;
        break;
      case 3:
        b = b.subarray(0, p.below(b.length + 1));
        break;
      case 4: {
        const out = new Uint8Array(b.length + 1 + p.below(64));
        out.set(b);
        out.set(p.bytes(out.length - b.length), b.length);
        b = out;
        break;
      }
      case 5:
        if (b.length) {
          const at = p.below(b.length);
          b.set(p.bytes(Math.min(b.length - at, 1 + p.below(16))), at);
        }
        break;
      case 6:
        if (b.length > 8) {
          const from = p.below(b.length - 4);
          const to = p.below(b.length - 4);
          b.copyWithin(to, from, from + 4);
        }
        break;
      default:
        if (b.length > 1) {
          const at = p.below(b.length);
          const out = new Uint8Array(b.length - 1);
          out.set(b.subarray(0, at));
          out.set(b.subarray(at + 1), at);
          b = out;
        }
    }
  }
  return b;
}

function flipBit(b: Uint8Array, at: number, bit: number): void {
  b[at] = (b[at] as number) ^ (1 << bit);
}

function heapUsed(): number {
  Bun.gc(true);
  return process.memoryUsage().heapUsed;
}

/** Runs the fuzzer; `deepEvery` sends a whole mutated initiation with valid mac1s every N iterations. */
export function runFuzz(iterations: number, seed = 1, deepEvery = 1000): FuzzReport {
  const p = new Prng(seed);
  const started = performance.now();
  const perTarget: Record<string, number> = {};
  const failures: string[] = [];
  let typedErrors = 0;
  let accepted = 0;
  let deepHandshakes = 0;
  let reassemblyBytesMax = 0;

  // Corpora of valid messages to mutate.
  const { initiator, responder: r0 } = pair();
  const init = datagramsOf(initiator.start(NOW_MS));
  const established = deliver(init, (d) => r0.receive(d, "seed", NOW_MS));
  const response = datagramsOf(established);
  const cookieReply = datagramsOf(r0.receive(init[0] as Uint8Array, "seed", NOW_MS, true))[0] as Uint8Array;
  const initBody = joinChunks(init);
  const responseBody = joinChunks(response);
  const revList = signRevocationList(
    guardian,
    {
      realm: REALM,
      issuedAt: NOW_S,
      sequence: 1,
      entries: [{ kind: RevocationKind.Node, id: alice.nodeId, until: 0 }],
    },
    new Uint8Array(32),
  );
  const toBob = mac1Key(bobCert.publicKeys);
  const bobCookieKey = cookieKey(bobCert.publicKeys);
  const trust = policy();
  const reassembler = new Reassembler({
    maxBytesPerSource: 16 * 1024,
    maxAssembliesPerSource: 4,
    maxBytesTotal: 256 * 1024,
    timeoutMs: 3000,
  });
  const responder = new HandshakeResponder(local(bob, bobCert), NOW_MS);

  const heapBefore = heapUsed();
  const guard = (target: string, fn: () => void, stateMachine = false) => {
    perTarget[target] = (perTarget[target] ?? 0) + 1;
    try {
      fn();
      accepted++;
    } catch (e) {
      if (!stateMachine && e instanceof AnchorError) {
        typedErrors++;
        return;
      }
      if (failures.length < 20) failures.push(`${target}: ${(e as Error)?.stack ?? String(e)}`);
    }
  };
  const pick = <T>(xs: readonly T[]): T => xs[p.below(xs.length)] as T;
  const maybeRandom = (valid: Uint8Array) =>
    p.below(8) === 0 ? p.bytes(p.below(valid.length + 64)) : mutate(p, valid);

  let defaultCount = 0;
  let heapWarm = heapBefore;
  for (let i = 0; i < iterations; i++) {
    if (i === Math.floor(iterations / 10)) heapWarm = heapUsed();
    const now = NOW_MS + i; // time advances so reassembly timeouts fire
    switch (i % 9) {
      case 0:
        guard("certificate", () =>
          decodeCertificate(maybeRandom(p.below(2) ? aliceCert.bytes : bobCert.bytes)),
        );
        break;
      case 1:
        guard("revocation-list", () => decodeRevocationList(maybeRandom(revList)));
        break;
      case 2:
        guard("fragment", () => {
          const d = maybeRandom(pick(init));
          const f = parseFragment(d);
          reassembler.add(`s${p.below(64)}`, f, now);
          reassemblyBytesMax = Math.max(reassemblyBytesMax, reassembler.bytes);
        });
        break;
      case 3:
        guard("initiation-body", () => parseInitiation(maybeRandom(initBody)));
        break;
      case 4:
        guard("response-body", () => parseResponse(maybeRandom(responseBody)));
        break;
      case 5:
        guard("cookie-reply", () =>
          openCookieReply(parseCookieReply(maybeRandom(cookieReply)), bobCookieKey, p.bytes(16)),
        );
        break;
      case 6:
        guard(
          "responder",
          () => {
            const d = maybeRandom(pick(init));
            if (d.length >= 45 && p.below(2)) writeMac1(toBob, d); // reach reassembly
            responder.receive(d, `s${p.below(16)}`, now, p.below(4) === 0);
            reassemblyBytesMax = Math.max(reassemblyBytesMax, responder.reassembly.bytes);
          },
          true,
        );
        break;
      case 7:
        guard(
          "initiator",
          () => {
            const d = maybeRandom(p.below(4) === 0 ? cookieReply : pick(response));
            initiator.receive(d, now, `s${p.below(8)}`);
          },
          true,
        );
        break;
      default:
        defaultCount++;
        if (deepEvery > 0 && defaultCount % Math.max(1, Math.round(deepEvery / 9)) === 0) {
          // A whole initiation with one mutated fragment, mac1 fixed up: reaches KEM + AEAD + certificate checks.
          guard(
            "responder-deep",
            () => {
              deepHandshakes++;
              const k = p.below(init.length);
              const dgrams = init.map((d, j) => {
                if (j !== k) return d;
                const m = Uint8Array.from(d);
                flipBit(m, 12 + p.below(m.length - 44), p.below(8));
                writeMac1(toBob, m);
                return m;
              });
              const fresh = new HandshakeResponder(local(bob, bobCert), NOW_MS);
              const out = deliver(dgrams, (d) => fresh.receive(d, "deep", NOW_MS));
              if (out.kind === "established") throw new Error("tampered initiation was accepted");
            },
            true,
          );
        } else if (defaultCount % 11 === 1) {
          // Mutants that still decode cost a full ML-DSA verification, so this target runs sparsely.
          guard("certificate-verify", () =>
            verifyCertificate(mutate(p, aliceCert.bytes), { ...trust, now: NOW_S }),
          );
        } else {
          guard("certificate", () => decodeCertificate(maybeRandom(aliceCert.bytes)));
        }
    }
  }
  const heapAfter = heapUsed();
  return {
    iterations,
    perTarget,
    typedErrors,
    accepted,
    deepHandshakes,
    failures,
    heapBeforeBytes: heapBefore,
    heapWarmBytes: heapWarm,
    heapAfterBytes: heapAfter,
    reassemblyBytesMax,
    seconds: (performance.now() - started) / 1000,
  };
}

function joinChunks(datagrams: Uint8Array[]): Uint8Array {
  const chunks = datagrams.map((d) => d.subarray(12, d.length - 32));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { iterations: { type: "string", default: "1000000" }, seed: { type: "string", default: "1" } },
  });
  const report = runFuzz(Number(values.iterations), Number(values.seed));
  const { failures, perTarget, ...summary } = report;
  console.log(JSON.stringify(perTarget));
  for (const f of failures) console.error(f);
  const heapDelta = report.heapAfterBytes - report.heapWarmBytes;
  console.log(
    Object.entries({ ...summary, heap_delta_bytes: heapDelta, failures: failures.length })
      .map(([k, v]) => `${k}=${Math.round(v * 100) / 100}`)
      .join(" "),
  );
  process.exit(failures.length === 0 ? 0 : 1);
}
