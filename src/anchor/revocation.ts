/**
 * Revocation: the set every node consults before accepting a certificate, and the signed list
 * Guardian publishes to fill it. Entries name a node id (every certificate of that identity:
 * key invalidation) or a certificate id (SHA-256 of one certificate). An entry may carry an expiry
 * (normally the certificate's not-after) after which it is pruned; 0 on the wire means forever.
 *
 *   signed revocation list (little-endian)
 *   off  size  field
 *   0    4     magic "VNR" + version 0x01
 *   4    1     realm length R (1..64), then R bytes realm id
 *   +0   16    issuer key id
 *   +16  8     issued-at, u64 Unix seconds
 *   +24  8     sequence, u64 (strictly increasing per realm)
 *   +32  2     entry count N (≤ MAX_REVOCATION_ENTRIES)
 *   +34  N × 41 entries: kind u8 (1 node, 2 certificate) | id (32) | until u64 seconds (0 = forever)
 *        3373  hybrid signature over everything before it, context REVOCATION_SIGNATURE_CONTEXT
 */
import { concatBytes, equalBytes, Reader, toHex, utf8, Writer } from "./_bytes.ts";
import type { Certificate } from "./certificate.ts";
import { RevocationListError } from "./errors.ts";
import {
  HYBRID_SIGNATURE_SIZE,
  ISSUER_KEY_ID_SIZE,
  issuerKeyIdOf,
  type SigningKeys,
  verifyHybrid,
} from "./identity.ts";
import type { TrustedIssuers } from "./issuer.ts";
import { isValidRealmId, REALM_ID_MAX_BYTES } from "./realm.ts";

/* Specification constants */
export const REVOCATION_MAGIC = Uint8Array.of(0x56, 0x4e, 0x52); // "VNR"
export const REVOCATION_VERSION = 1;
export const REVOCATION_SIGNATURE_CONTEXT = "veilnet revocation list v1";
export const MAX_REVOCATION_ENTRIES = 4096;
export const RevocationKind = { Node: 1, Certificate: 2 } as const;
export type RevocationKind = (typeof RevocationKind)[keyof typeof RevocationKind];
const ENTRY_SIZE = 1 + 32 + 8;
const ID_SIZE = 32;

export interface RevocationEntry {
  readonly kind: RevocationKind;
  readonly id: Uint8Array;
  /** Unix seconds after which the entry may be forgotten; Infinity = forever. */
  readonly until: number;
}

export interface RevocationList {
  readonly realm: string;
  readonly issuerKeyId: Uint8Array;
  readonly issuedAt: number;
  readonly sequence: number;
  readonly entries: readonly RevocationEntry[];
}

/** The revocations a node honours. Lookups are O(1); not safe for concurrent mutation. */
export class RevocationSet {
  readonly #nodes = new Map<string, number>();
  readonly #certs = new Map<string, number>();
  #sequence = -1;

  revokeNode(nodeId: Uint8Array, until = Number.POSITIVE_INFINITY): void {
    this.#nodes.set(toHex(nodeId), until);
  }
  revokeCertificate(certId: Uint8Array, until = Number.POSITIVE_INFINITY): void {
    this.#certs.set(toHex(certId), until);
  }
  /** True if the certificate or its node id is revoked at `nowSeconds`. */
  isRevoked(cert: Pick<Certificate, "id" | "nodeId">, nowSeconds: number): boolean {
    const n = this.#nodes.get(toHex(cert.nodeId));
    if (n !== undefined && nowSeconds <= n) return true;
    const c = this.#certs.get(toHex(cert.id));
    return c !== undefined && nowSeconds <= c;
  }
  /** Merges a verified list; a list not newer than the last one applied is ignored (returns false). */
  apply(list: RevocationList): boolean {
    if (list.sequence <= this.#sequence) return false;
    this.#sequence = list.sequence;
    for (const e of list.entries) {
      if (e.kind === RevocationKind.Node) this.revokeNode(e.id, e.until);
      else this.revokeCertificate(e.id, e.until);
    }
    return true;
  }
  /** Drops entries whose `until` has passed. */
  prune(nowSeconds: number): void {
    for (const m of [this.#nodes, this.#certs])
      for (const [k, until] of m) if (until < nowSeconds) m.delete(k);
  }
  get size(): number {
    return this.#nodes.size + this.#certs.size;
  }
  get sequence(): number {
    return this.#sequence;
  }
}

/** Guardian side: encodes and signs a revocation list. */
export function signRevocationList(
  issuer: SigningKeys,
  list: Omit<RevocationList, "issuerKeyId">,
  random?: Uint8Array,
): Uint8Array {
  if (!isValidRealmId(list.realm)) throw fail("REALM", "bad realm id");
  if (list.entries.length > MAX_REVOCATION_ENTRIES) throw fail("SIZE", "too many entries");
  const realm = utf8.encode(list.realm);
  const w = new Writer(
    4 + 1 + realm.length + ISSUER_KEY_ID_SIZE + 8 + 8 + 2 + list.entries.length * ENTRY_SIZE,
  )
    .put(REVOCATION_MAGIC)
    .u8(REVOCATION_VERSION)
    .u8(realm.length)
    .put(realm)
    .put(issuerKeyIdOf(issuer))
    .u64(list.issuedAt)
    .u64(list.sequence)
    .u16(list.entries.length);
  for (const e of list.entries) {
    if (e.id.length !== ID_SIZE) throw fail("ENTRY", "entry id must be 32 bytes");
    w.u8(e.kind)
      .put(e.id)
      .u64(Number.isFinite(e.until) ? e.until : 0);
  }
  const body = w.done();
  return concatBytes(body, issuer.sign(body, REVOCATION_SIGNATURE_CONTEXT, random));
}

/** Parses without verifying. Throws only `RevocationListError`. */
export function decodeRevocationList(input: Uint8Array): RevocationList & { signedLength: number } {
  const r = new Reader(input, fail);
  if (!equalBytes(r.bytesView(3, "magic"), REVOCATION_MAGIC)) throw fail("MAGIC", "not a revocation list");
  if (r.u8("version") !== REVOCATION_VERSION) throw fail("VERSION", "unsupported revocation list version");
  const realmLength = r.u8("realm length");
  if (realmLength < 1 || realmLength > REALM_ID_MAX_BYTES) throw fail("REALM", "bad realm length");
  const realm = String.fromCharCode(...r.bytesView(realmLength, "realm"));
  if (!isValidRealmId(realm)) throw fail("REALM", "bad realm id");
  const issuerKeyId = r.bytesCopy(ISSUER_KEY_ID_SIZE, "issuer key id");
  const issuedAt = r.u64("issued-at");
  const sequence = r.u64("sequence");
  const count = r.u16("entry count");
  if (count > MAX_REVOCATION_ENTRIES) throw fail("SIZE", "too many entries");
  if (r.remaining !== count * ENTRY_SIZE + HYBRID_SIGNATURE_SIZE)
    throw fail("SIZE", "length does not match count");
  const entries: RevocationEntry[] = [];
  for (let i = 0; i < count; i++) {
    const kind = r.u8("kind");
    if (kind !== RevocationKind.Node && kind !== RevocationKind.Certificate)
      throw fail("ENTRY", "unknown kind");
    const id = r.bytesCopy(ID_SIZE, "id");
    const until = r.u64("until");
    entries.push({ kind, id, until: until === 0 ? Number.POSITIVE_INFINITY : until });
  }
  const signedLength = r.offset;
  r.bytesView(HYBRID_SIGNATURE_SIZE, "signature");
  r.end("revocation list");
  return { realm, issuerKeyId, issuedAt, sequence, entries, signedLength };
}

/** Node side: decodes, checks issuer, realm and both signatures. */
export function verifyRevocationList(
  input: Uint8Array,
  opts: { realmKeys: TrustedIssuers; realm: string },
): RevocationList {
  const list = decodeRevocationList(input);
  const key = opts.realmKeys.get(toHex(list.issuerKeyId));
  if (key === undefined) throw fail("UNKNOWN_ISSUER", "revocation list from an unknown issuer");
  if (list.realm !== opts.realm) throw fail("WRONG_REALM", "revocation list for another realm");
  const body = input.subarray(0, list.signedLength);
  const sig = input.subarray(list.signedLength);
  if (!verifyHybrid(sig, body, REVOCATION_SIGNATURE_CONTEXT, key.ed25519Public, key.mldsa65Public)) {
    throw fail("BAD_SIGNATURE", "revocation list signature does not verify");
  }
  const { signedLength: _, ...rest } = list;
  return rest;
}

function fail(code: string, message: string): RevocationListError {
  return new RevocationListError(`REVOCATION_${code}`, message);
}
