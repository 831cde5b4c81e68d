/** Library entry for embedded use: `import { ... } from "veilnet"`. */
export { UsageError, VeilnetError } from "./errors.ts";
export { VERSION } from "./version.ts";
