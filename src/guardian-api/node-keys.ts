/**
 * The keys a node holds besides its hybrid identity: a NATS user nkey and an ECDSA P-256 key for
 * mTLS. Both are generated on the node; only their public halves are sent to the Guardian.
 */
import { createUser, fromSeed } from "@nats-io/nkeys";
import type { Identity } from "../anchor/identity.ts";
import { exportTlsKeyPair, generateTlsKeyPair } from "../pki/tls-keys.ts"; // not the barrel: no x509 in a node

export interface NodeKeys {
  readonly identity: Identity;
  /** NATS user nkey seed ("SU…"). Secret: store 0600, never log. */
  readonly natsSeed: string;
  readonly natsPublicKey: string;
  /** P-256 private key, PKCS#8 PEM. Secret. */
  readonly tlsPrivateKeyPem: string;
  readonly tlsPublicKeyPem: string;
}

export async function generateNodeKeys(identity: Identity): Promise<NodeKeys> {
  const user = createUser();
  const tls = await exportTlsKeyPair(await generateTlsKeyPair());
  return {
    identity,
    natsSeed: new TextDecoder().decode(user.getSeed()),
    natsPublicKey: user.getPublicKey(),
    tlsPrivateKeyPem: tls.privateKeyPem,
    tlsPublicKeyPem: tls.publicKeyPem,
  };
}

/** Rebuilds NodeKeys from stored secrets. */
export function nodeKeysFrom(
  identity: Identity,
  natsSeed: string,
  tls: { privateKeyPem: string; publicKeyPem: string },
): NodeKeys {
  const user = fromSeed(new TextEncoder().encode(natsSeed));
  return {
    identity,
    natsSeed,
    natsPublicKey: user.getPublicKey(),
    tlsPrivateKeyPem: tls.privateKeyPem,
    tlsPublicKeyPem: tls.publicKeyPem,
  };
}
