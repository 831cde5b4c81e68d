/**
 * An ECDSA P-256 certificate authority for the control plane's mTLS: NATS servers (client, route
 * and gateway ports all use `verify: true`) and node client certificates (short-lived, issued by
 * Guardian). Built on @peculiar/x509 over WebCrypto; `reflect-metadata` must be loaded first.
 *
 * Server certificates carry EKU serverAuth + clientAuth because servers dial each other (routes,
 * gateways) as TLS clients; client certificates carry clientAuth only.
 */
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { PkiError } from "./errors.ts";
import { generateTlsKeyPair, TLS_KEY_ALGORITHM, toPem } from "./tls-keys.ts";

/* Implementation constants */
export const CA_VALID_DAYS = 3650;
export const SERVER_CERT_VALID_DAYS = 825;
/** Node client certificates default to the credential lifetime (1 hour, renewed at half-life). */
export const CLIENT_CERT_VALID_SECONDS = 3600;
/** Certificates start this long in the past to absorb clock skew between hosts. */
export const CLOCK_SKEW_MS = 5 * 60_000;

const SIGN_ALG = { name: "ECDSA", hash: "SHA-256" } as const;

x509.cryptoProvider.set(globalThis.crypto);

/** A certificate and (when generated here) its private key, both PEM. `keyPem` is secret. */
export interface IssuedCert {
  readonly certPem: string;
  /** PKCS#8 PEM; absent when the caller supplied the public key. */
  readonly keyPem?: string;
  readonly notAfter: Date;
  readonly serialNumber: string;
}

export interface ServerCertOptions {
  commonName: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  validDays?: number;
}

export interface ClientCertOptions {
  commonName: string;
  /** Extra SAN URIs, e.g. `veilnet:node:<hex id>` or `veilnet:realm:<id>`. */
  uris?: readonly string[];
  validSeconds?: number;
  /** SPKI PEM of a key the subject generated itself; omitted = a key pair is generated here. */
  publicKeyPem?: string;
}

export class TlsCa {
  readonly certPem: string;
  readonly #cert: x509.X509Certificate;
  readonly #key: CryptoKey;

  private constructor(cert: x509.X509Certificate, key: CryptoKey) {
    this.#cert = cert;
    this.#key = key;
    this.certPem = cert.toString("pem");
  }

  /** A new self-signed CA (ECDSA P-256, path length 0). */
  static async create(opts: { commonName: string; validDays?: number }): Promise<TlsCa> {
    const keys = await generateTlsKeyPair();
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: dn(opts.commonName),
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + (opts.validDays ?? CA_VALID_DAYS) * 86_400_000),
      keys,
      signingAlgorithm: SIGN_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new TlsCa(cert, keys.privateKey);
  }

  /** Loads a CA from its certificate and PKCS#8 private key (PEM). Checks that they match. */
  static async fromPem(certPem: string, keyPem: string): Promise<TlsCa> {
    let cert: x509.X509Certificate;
    let key: CryptoKey;
    try {
      cert = new x509.X509Certificate(certPem);
      key = await crypto.subtle.importKey("pkcs8", pemBody(keyPem, "PRIVATE KEY"), TLS_KEY_ALGORITHM, true, [
        "sign",
      ]);
    } catch (cause) {
      throw new PkiError("PKI_BAD_CA", "CA certificate or key is not valid PEM (ECDSA P-256)", { cause });
    }
    const probe = new TextEncoder().encode("veilnet ca key check");
    const sig = await crypto.subtle.sign(SIGN_ALG, key, probe);
    const pub = await cert.publicKey.export(TLS_KEY_ALGORITHM, ["verify"]);
    if (!(await crypto.subtle.verify(SIGN_ALG, pub, sig, probe))) {
      throw new PkiError("PKI_BAD_CA", "CA key does not match the CA certificate");
    }
    return new TlsCa(cert, key);
  }

  /** The CA private key as PKCS#8 PEM. Secret: write 0600, never log. */
  async exportKeyPem(): Promise<string> {
    return toPem(await crypto.subtle.exportKey("pkcs8", this.#key), "PRIVATE KEY");
  }

  get notAfter(): Date {
    return this.#cert.notAfter;
  }

  /** A NATS server certificate: SANs for every address it is dialled on, EKU server+client. */
  async issueServer(opts: ServerCertOptions): Promise<IssuedCert> {
    const sans: x509.JsonGeneralName[] = [
      ...(opts.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
      ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
    ];
    if (sans.length === 0) throw new PkiError("PKI_NO_SAN", "a server certificate needs a DNS name or IP");
    return this.#issue({
      commonName: opts.commonName,
      validMs: (opts.validDays ?? SERVER_CERT_VALID_DAYS) * 86_400_000,
      sans,
      eku: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    });
  }

  /** A node client certificate (EKU clientAuth), short-lived by default. */
  async issueClient(opts: ClientCertOptions): Promise<IssuedCert> {
    const validSeconds = opts.validSeconds ?? CLIENT_CERT_VALID_SECONDS;
    if (!(validSeconds > 0)) throw new PkiError("PKI_BAD_TTL", "certificate lifetime must be positive");
    return this.#issue({
      commonName: opts.commonName,
      validMs: validSeconds * 1000,
      sans: (opts.uris ?? []).map((value) => ({ type: "url" as const, value })),
      eku: [x509.ExtendedKeyUsage.clientAuth],
      publicKeyPem: opts.publicKeyPem,
    });
  }

  async #issue(o: {
    commonName: string;
    validMs: number;
    sans: x509.JsonGeneralName[];
    eku: string[];
    publicKeyPem?: string | undefined;
  }): Promise<IssuedCert> {
    let publicKey: CryptoKey;
    let keyPem: string | undefined;
    if (o.publicKeyPem) {
      try {
        publicKey = await crypto.subtle.importKey(
          "spki",
          pemBody(o.publicKeyPem, "PUBLIC KEY"),
          TLS_KEY_ALGORITHM,
          true,
          ["verify"],
        );
      } catch (cause) {
        throw new PkiError("PKI_BAD_PUBLIC_KEY", "public key must be an ECDSA P-256 SPKI PEM", { cause });
      }
    } else {
      const pair = await generateTlsKeyPair();
      publicKey = pair.publicKey;
      keyPem = toPem(await crypto.subtle.exportKey("pkcs8", pair.privateKey), "PRIVATE KEY");
    }
    const now = Date.now();
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(o.eku, false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(this.#cert),
    ];
    if (o.sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(o.sans, false));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: dn(o.commonName),
      issuer: this.#cert.subject,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + o.validMs),
      publicKey,
      signingKey: this.#key,
      signingAlgorithm: SIGN_ALG,
      extensions,
    });
    const out: IssuedCert = {
      certPem: cert.toString("pem"),
      notAfter: cert.notAfter,
      serialNumber: cert.serialNumber,
    };
    return keyPem ? { ...out, keyPem } : out;
  }

  /** True if `certPem` was signed by this CA and is valid at `at` (default now). */
  async verifyIssued(certPem: string, at: Date = new Date()): Promise<boolean> {
    try {
      const cert = new x509.X509Certificate(certPem);
      if (at < cert.notBefore || at > cert.notAfter) return false;
      return await cert.verify({ publicKey: this.#cert.publicKey, signatureOnly: true });
    } catch {
      return false;
    }
  }
}

/** Subject common name and validity of a PEM certificate (for status output and renewal timers). */
export function describeCert(certPem: string): { commonName: string; notBefore: Date; notAfter: Date } {
  try {
    const cert = new x509.X509Certificate(certPem);
    const cn = cert.subjectName.getField("CN")[0] ?? "";
    return { commonName: cn, notBefore: cert.notBefore, notAfter: cert.notAfter };
  } catch (cause) {
    throw new PkiError("PKI_BAD_CERT", "not a valid PEM certificate", { cause });
  }
}

function dn(commonName: string): string {
  if (!/^[A-Za-z0-9 ._:@-]{1,64}$/.test(commonName)) {
    throw new PkiError("PKI_BAD_NAME", "common name must be 1-64 of [A-Za-z0-9 ._:@-]");
  }
  return `CN=${commonName}, O=veilnet`;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString("hex");
}

function pemBody(pem: string, label: string): ArrayBuffer {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`);
  const m = re.exec(pem);
  if (!m?.[1]) throw new PkiError("PKI_BAD_PEM", `expected a PEM ${label}`);
  const der = Buffer.from(m[1].replace(/\s+/g, ""), "base64");
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
}
