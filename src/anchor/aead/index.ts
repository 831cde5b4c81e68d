export {
  AEAD_KEY_SIZE,
  AEAD_NONCE_SIZE,
  AEAD_TAG_SIZE,
  type AeadBackend,
  type AeadContext,
  SUITE_NAMES,
  Suite,
} from "./aead.ts";
export { chachaNobleBackend } from "./chacha-noble.ts";
export {
  availableBackends,
  type BackendName,
  chooseAead,
  hasHardwareAes,
  recommendedSuite,
} from "./choose.ts";
export { AeadError } from "./errors.ts";
export { nodeCryptoBackend } from "./node-crypto.ts";
export { opensslAvailable, opensslBackend } from "./openssl.ts";
