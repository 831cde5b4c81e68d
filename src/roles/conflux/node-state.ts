/**
 * The node's state directory (0700): its identity and secret keys (0600, created once), the
 * credentials Guardian issued (0600: the JWT is a bearer credential), and the Q-table. Every write
 * is atomic; a node killed mid-write restarts from the previous complete file.
 *
 *   identity.key       161-byte hybrid identity seed (src/anchor/identity.ts)
 *   keys.json          NATS user nkey seed and the mTLS P-256 key pair
 *   credentials.json   the last credentials from Guardian (enrolment or renewal)
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Identity } from "../../anchor/identity.ts";
import { VeilnetError } from "../../errors.ts";
import { generateNodeKeys, type NodeKeys, nodeKeysFrom } from "../../guardian-api/node-keys.ts";
import type { Credentials } from "../../guardian-api/wire.ts";
import { credentialsJson, parseCredentials } from "../../guardian-api/wire.ts";
import { writeFileAtomic } from "../../storage/atomic-file.ts";

export const IDENTITY_FILE = "identity.key";
export const KEYS_FILE = "keys.json";
export const CREDENTIALS_FILE = "credentials.json";

export class NodeStateError extends VeilnetError {
  override readonly name = "NodeStateError";
}

export class NodeState {
  private constructor(
    readonly dir: string,
    readonly keys: NodeKeys,
  ) {}

  /** Opens the directory, creating it and the node's keys on first use. */
  static async open(dir: string): Promise<NodeState> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const identityPath = join(dir, IDENTITY_FILE);
    const keysPath = join(dir, KEYS_FILE);
    if (!existsSync(identityPath)) {
      const identity = Identity.generate();
      const keys = await generateNodeKeys(identity);
      writeFileAtomic(keysPath, serialiseKeys(keys), { mode: 0o600 });
      writeFileAtomic(identityPath, identity.exportSecret(), { mode: 0o600, exclusive: true });
      return new NodeState(dir, keys);
    }
    checkPrivate(identityPath);
    const identity = Identity.fromSecret(new Uint8Array(readFileSync(identityPath)));
    if (!existsSync(keysPath)) {
      throw new NodeStateError("STATE_KEYS_MISSING", `${keysPath} is missing but ${identityPath} exists`);
    }
    checkPrivate(keysPath);
    return new NodeState(dir, parseKeys(identity, readFileSync(keysPath, "utf8"), keysPath));
  }

  get identity(): Identity {
    return this.keys.identity;
  }

  get nodeIdHex(): string {
    return Buffer.from(this.keys.identity.nodeId).toString("hex");
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  loadCredentials(): Credentials | undefined {
    const path = join(this.dir, CREDENTIALS_FILE);
    if (!existsSync(path)) return undefined;
    checkPrivate(path);
    try {
      return parseCredentials(JSON.parse(readFileSync(path, "utf8")));
    } catch (err) {
      throw new NodeStateError(
        "STATE_BAD_CREDENTIALS",
        `${path} is not valid credentials; remove it and re-enrol`,
        {
          cause: err,
        },
      );
    }
  }

  saveCredentials(c: Credentials): void {
    writeFileAtomic(join(this.dir, CREDENTIALS_FILE), JSON.stringify(credentialsJson(c)), { mode: 0o600 });
  }
}

function serialiseKeys(keys: NodeKeys): string {
  return JSON.stringify({
    v: 1,
    natsSeed: keys.natsSeed,
    tlsPrivateKeyPem: keys.tlsPrivateKeyPem,
    tlsPublicKeyPem: keys.tlsPublicKeyPem,
  });
}

function parseKeys(identity: Identity, text: string, path: string): NodeKeys {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new NodeStateError("STATE_BAD_KEYS", `${path} is not JSON`);
  }
  const { natsSeed, tlsPrivateKeyPem, tlsPublicKeyPem } = o;
  if (
    o.v !== 1 ||
    typeof natsSeed !== "string" ||
    !natsSeed.startsWith("SU") ||
    typeof tlsPrivateKeyPem !== "string" ||
    typeof tlsPublicKeyPem !== "string"
  ) {
    throw new NodeStateError("STATE_BAD_KEYS", `${path} does not hold veilnet node keys (v1)`);
  }
  return nodeKeysFrom(identity, natsSeed, { privateKeyPem: tlsPrivateKeyPem, publicKeyPem: tlsPublicKeyPem });
}

/** Refuses secrets that others can read: someone may already have copied them. */
function checkPrivate(path: string): void {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    throw new NodeStateError(
      "STATE_INSECURE",
      `${path} has mode ${mode.toString(8)}; it must be 600 (chmod 600 ${path}) — rotate it if others read it`,
    );
  }
}
