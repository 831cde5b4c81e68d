import { aeadConformance } from "./aead.case.ts";
import { opensslBackend } from "./openssl.ts";

aeadConformance(opensslBackend);
