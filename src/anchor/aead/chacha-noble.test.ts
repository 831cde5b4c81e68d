import { aeadConformance } from "./aead.case.ts";
import { chachaNobleBackend } from "./chacha-noble.ts";

aeadConformance(chachaNobleBackend);
