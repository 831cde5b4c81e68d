/**
 * TLS key pairs for the control plane's mTLS (ECDSA P-256, WebCrypto) and their PEM encodings.
 * Apart from the CA (tls-ca.ts) on purpose: a node needs its key pair but not the certificate
 * library, which is large and would otherwise be loaded into every node.
 */

/** The key algorithm of every control-plane TLS key. */
export const TLS_KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;

/** RFC 7468 text encoding: base64 in lines of 64 characters between BEGIN/END labels. */
const PEM_LINE = 64;

/** A fresh extractable ECDSA P-256 key pair for a TLS certificate. */
export async function generateTlsKeyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(TLS_KEY_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** PEM encodings of a key pair: `{ publicKeyPem (SPKI), privateKeyPem (PKCS#8, secret) }`. */
export async function exportTlsKeyPair(
  pair: CryptoKeyPair,
): Promise<{ publicKeyPem: string; privateKeyPem: string }> {
  return {
    publicKeyPem: toPem(await crypto.subtle.exportKey("spki", pair.publicKey), "PUBLIC KEY"),
    privateKeyPem: toPem(await crypto.subtle.exportKey("pkcs8", pair.privateKey), "PRIVATE KEY"),
  };
}

/** DER bytes as a PEM block with `label` (e.g. "PRIVATE KEY"). */
export function toPem(der: ArrayBuffer, label: string): string {
  const base64 = Buffer.from(der).toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += PEM_LINE) lines.push(base64.slice(i, i + PEM_LINE));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----`;
}
