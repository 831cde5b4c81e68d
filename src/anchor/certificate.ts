/**
 * Anchor node certificates: a compact, canonical, versioned binary record signed by a Guardian
 * realm key with both Ed25519 and ML-DSA-65. Little-endian integers; every field has a fixed size
 * or a one-byte length, and a certificate has exactly one valid encoding (taints sorted, unique).
 *
 *   off   size  field
 *   0     4     magic "VNC" + version 0x01
 *   4     32    node id = SHA-256(label || the four public keys)
 *   36    1     realm length R (1..64)
 *   37    R     realm id, [A-Za-z0-9._-]
 *   +0    4     overlay IPv4, inside 100.64.0.0/10
 *   +4    16    overlay IPv6 = nodeAddress6(realm, node id)
 *   +20   8     not-before, u64 Unix seconds
 *   +28   8     not-after,  u64 Unix seconds (> not-before)
 *   +36   16    issuer key id = issuerKeyIdOf(Guardian realm key)
 *   +52   32    Ed25519 public key
 *   +84   1952  ML-DSA-65 public key
 *   +2036 32    X25519 public key
 *   +2068 1184  ML-KEM-768 public key
 *   +3252 1     taint count T (0..16)
 *         T ×   (u8 length 1..32, bytes [a-z0-9._:-]), strictly ascending
 *         3373  signature: Ed25519 (64) || ML-DSA-65 (3309) over all bytes before it,
 *               context CERTIFICATE_SIGNATURE_CONTEXT
 */
import { concatBytes, equalBytes, Reader, sha256, utf8, Writer } from "./_bytes.ts";
import { nodeAddress6Bytes } from "./address6.ts";
import { CertificateMalformed } from "./errors.ts";
import {
  ED25519_PUBLIC_SIZE,
  HYBRID_SIGNATURE_SIZE,
  ISSUER_KEY_ID_SIZE,
  issuerKeyIdOf,
  MLDSA65_PUBLIC_SIZE,
  MLKEM768_PUBLIC_SIZE,
  NODE_ID_SIZE,
  nodeIdOf,
  type PublicKeys,
  type SigningKeys,
  X25519_PUBLIC_SIZE,
} from "./identity.ts";
import { isValidRealmId, REALM_ID_MAX_BYTES } from "./realm.ts";

/* Specification constants */
export const CERTIFICATE_MAGIC = Uint8Array.of(0x56, 0x4e, 0x43); // "VNC"
export const CERTIFICATE_VERSION = 1;
export const CERTIFICATE_SIGNATURE_CONTEXT = "veilnet certificate v1";
export const MAX_TAINTS = 16;
export const MAX_TAINT_BYTES = 32;
export const TAINT_PATTERN = /^[a-z0-9._:-]{1,32}$/;
export const CERTIFICATE_ID_SIZE = 32;
const FIXED_SIZE =
  4 + NODE_ID_SIZE + 1 + 4 + 16 + 8 + 8 + ISSUER_KEY_ID_SIZE + ED25519_PUBLIC_SIZE + MLDSA65_PUBLIC_SIZE;
const KEYS_TAIL = X25519_PUBLIC_SIZE + MLKEM768_PUBLIC_SIZE + 1;
/** Smallest and largest possible encodings (realm of 1 byte and no taints; everything maximal). */
export const CERTIFICATE_MIN_SIZE = FIXED_SIZE + 1 + KEYS_TAIL + HYBRID_SIGNATURE_SIZE;
export const CERTIFICATE_MAX_SIZE =
  FIXED_SIZE + REALM_ID_MAX_BYTES + KEYS_TAIL + MAX_TAINTS * (1 + MAX_TAINT_BYTES) + HYBRID_SIGNATURE_SIZE;

/** A decoded certificate. Fields are views into `bytes`; treat everything as read-only. */
export interface Certificate {
  readonly version: number;
  readonly nodeId: Uint8Array;
  readonly realm: string;
  readonly ipv4: Uint8Array;
  readonly ipv6: Uint8Array;
  /** Unix seconds. */
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuerKeyId: Uint8Array;
  readonly publicKeys: PublicKeys;
  readonly taints: readonly string[];
  readonly signature: Uint8Array;
  /** The whole encoding, signature included. */
  readonly bytes: Uint8Array;
  /** Length of the signed prefix of `bytes`. */
  readonly signedLength: number;
  /** SHA-256 of `bytes`: the certificate id (cache key, revocation key, transcript input). */
  readonly id: Uint8Array;
}

/** What Guardian decides when it issues a certificate; the node id and IPv6 are derived. */
export interface CertificateRequest {
  readonly publicKeys: PublicKeys;
  readonly realm: string;
  /** Dotted quad inside 100.64.0.0/10, or its 4 bytes. */
  readonly ipv4: string | Uint8Array;
  readonly taints?: readonly string[];
  /** Unix seconds. */
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Signs a certificate with the Guardian realm key (both halves). `random` hedges ML-DSA (tests pin it). */
export function issueCertificate(
  issuer: SigningKeys,
  request: CertificateRequest,
  random?: Uint8Array,
): Certificate {
  const taints = [...new Set(request.taints ?? [])].sort();
  const nodeId = nodeIdOf(request.publicKeys);
  const fields = {
    nodeId,
    realm: request.realm,
    ipv4: typeof request.ipv4 === "string" ? parseIPv4(request.ipv4) : request.ipv4,
    ipv6: isValidRealmId(request.realm) ? nodeAddress6Bytes(request.realm, nodeId) : new Uint8Array(16),
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    issuerKeyId: issuerKeyIdOf(issuer),
    publicKeys: request.publicKeys,
    taints,
  };
  checkFields(fields);
  const body = encodeBody(fields);
  const signature = issuer.sign(body, CERTIFICATE_SIGNATURE_CONTEXT, random);
  return decodeCertificate(concatBytes(body, signature));
}

/** Parses a certificate. Throws only `CertificateMalformed`; does NOT check signatures or validity. */
export function decodeCertificate(input: Uint8Array): Certificate {
  if (!(input instanceof Uint8Array)) throw malformed("TYPE", "certificate must be bytes");
  if (input.length < CERTIFICATE_MIN_SIZE || input.length > CERTIFICATE_MAX_SIZE) {
    throw malformed("SIZE", `certificate size ${input.length} out of range`);
  }
  const bytes = Uint8Array.from(input);
  const r = new Reader(bytes, malformed);
  const magic = r.bytesView(3, "magic");
  if (!equalBytes(magic, CERTIFICATE_MAGIC)) throw malformed("MAGIC", "not a veilnet certificate");
  const version = r.u8("version");
  if (version !== CERTIFICATE_VERSION)
    throw malformed("VERSION", `unsupported certificate version ${version}`);
  const nodeId = r.bytesView(NODE_ID_SIZE, "node id");
  const realmLength = r.u8("realm length");
  if (realmLength < 1 || realmLength > REALM_ID_MAX_BYTES) throw malformed("REALM", "bad realm length");
  const realm = latin1(r.bytesView(realmLength, "realm"));
  const ipv4 = r.bytesView(4, "ipv4");
  const ipv6 = r.bytesView(16, "ipv6");
  const notBefore = r.u64("not-before");
  const notAfter = r.u64("not-after");
  const issuerKeyId = r.bytesView(ISSUER_KEY_ID_SIZE, "issuer key id");
  const publicKeys: PublicKeys = Object.freeze({
    ed25519: r.bytesView(ED25519_PUBLIC_SIZE, "ed25519 key"),
    mldsa65: r.bytesView(MLDSA65_PUBLIC_SIZE, "ml-dsa-65 key"),
    x25519: r.bytesView(X25519_PUBLIC_SIZE, "x25519 key"),
    mlkem768: r.bytesView(MLKEM768_PUBLIC_SIZE, "ml-kem-768 key"),
  });
  const count = r.u8("taint count");
  if (count > MAX_TAINTS) throw malformed("TAINTS", "too many taints");
  const taints: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.u8("taint length");
    if (len < 1 || len > MAX_TAINT_BYTES) throw malformed("TAINTS", "bad taint length");
    taints.push(latin1(r.bytesView(len, "taint")));
  }
  const signedLength = r.offset;
  const signature = r.bytesView(HYBRID_SIGNATURE_SIZE, "signature");
  r.end("certificate");
  const fields = { nodeId, realm, ipv4, ipv6, notBefore, notAfter, issuerKeyId, publicKeys, taints };
  checkFields(fields);
  if (!equalBytes(nodeId, nodeIdOf(publicKeys))) throw malformed("NODE_ID", "node id does not match keys");
  if (!equalBytes(ipv6, nodeAddress6Bytes(realm, nodeId))) {
    throw malformed("ADDRESS", "ipv6 is not the identity-derived address");
  }
  return Object.freeze({
    version,
    ...fields,
    taints: Object.freeze(taints),
    signature,
    bytes,
    signedLength,
    id: sha256(bytes),
  });
}

/** The certificate's overlay IPv4 as a dotted quad. */
export function formatIPv4(b: Uint8Array): string {
  return Array.from(b).join(".");
}

export function parseIPv4(text: string): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255)) {
    throw malformed("IPV4", "bad IPv4 address");
  }
  return Uint8Array.from(parts.map(Number));
}

interface Fields {
  nodeId: Uint8Array;
  realm: string;
  ipv4: Uint8Array;
  ipv6: Uint8Array;
  notBefore: number;
  notAfter: number;
  issuerKeyId: Uint8Array;
  publicKeys: PublicKeys;
  taints: readonly string[];
}

function checkFields(f: Fields): void {
  if (!isValidRealmId(f.realm)) throw malformed("REALM", "realm id has bad characters or length");
  if (f.ipv4.length !== 4 || f.ipv4[0] !== 100 || ((f.ipv4[1] as number) & 0xc0) !== 64) {
    throw malformed("IPV4", "overlay IPv4 must be inside 100.64.0.0/10");
  }
  if (!Number.isSafeInteger(f.notBefore) || !Number.isSafeInteger(f.notAfter) || f.notBefore < 0) {
    throw malformed("VALIDITY", "validity bounds must be u64 seconds");
  }
  if (f.notAfter <= f.notBefore) throw malformed("VALIDITY", "not-after must be after not-before");
  if (f.taints.length > MAX_TAINTS) throw malformed("TAINTS", "too many taints");
  for (let i = 0; i < f.taints.length; i++) {
    const t = f.taints[i] as string;
    if (!TAINT_PATTERN.test(t)) throw malformed("TAINTS", "taint has bad characters or length");
    if (i > 0 && !((f.taints[i - 1] as string) < t))
      throw malformed("TAINTS", "taints not sorted and unique");
  }
  const k = f.publicKeys;
  if (
    k.ed25519.length !== ED25519_PUBLIC_SIZE ||
    k.mldsa65.length !== MLDSA65_PUBLIC_SIZE ||
    k.x25519.length !== X25519_PUBLIC_SIZE ||
    k.mlkem768.length !== MLKEM768_PUBLIC_SIZE
  ) {
    throw malformed("KEYS", "public key of wrong size");
  }
}

function encodeBody(f: Fields): Uint8Array {
  const realm = utf8.encode(f.realm);
  const taints = f.taints.map((t) => utf8.encode(t));
  const size = FIXED_SIZE + realm.length + KEYS_TAIL + taints.reduce((n, t) => n + 1 + t.length, 0);
  const w = new Writer(size)
    .put(CERTIFICATE_MAGIC)
    .u8(CERTIFICATE_VERSION)
    .put(f.nodeId)
    .u8(realm.length)
    .put(realm)
    .put(f.ipv4)
    .put(f.ipv6)
    .u64(f.notBefore)
    .u64(f.notAfter)
    .put(f.issuerKeyId)
    .put(f.publicKeys.ed25519)
    .put(f.publicKeys.mldsa65)
    .put(f.publicKeys.x25519)
    .put(f.publicKeys.mlkem768)
    .u8(taints.length);
  for (const t of taints) w.u8(t.length).put(t);
  return w.done();
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i] as number);
  return s;
}

function malformed(code: string, message: string): CertificateMalformed {
  return new CertificateMalformed(`CERT_MALFORMED_${code}`, message);
}
