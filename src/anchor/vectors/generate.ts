/** Writes the handshake-plane vectors: `bun run src/anchor/vectors/generate.ts`. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildVectors } from "./handshake-vectors.ts";

for (const [name, content] of Object.entries(buildVectors())) {
  writeFileSync(join(import.meta.dir, name), `${JSON.stringify(content, null, 2)}\n`);
  console.log(`wrote ${name}`);
}
