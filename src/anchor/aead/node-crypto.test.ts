import { aeadConformance } from "./aead.case.ts";
import { nodeCryptoBackend } from "./node-crypto.ts";

aeadConformance(nodeCryptoBackend);
