/**
 * The Anchor protocol benchmark: transport crypto (bench/anchor-transport.ts) and, when present,
 * the handshake (bench/anchor-handshake.ts). Prints one `key=value` summary line last.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { benchTransport } from "./anchor-transport.ts";

const results: Record<string, number> = {};
const handshakeBench = join(import.meta.dir, "anchor-handshake.ts");
if (existsSync(handshakeBench)) {
  const mod = (await import(handshakeBench)) as Record<string, unknown>;
  const fn = Object.entries(mod).find(([k, v]) => k.startsWith("bench") && typeof v === "function")?.[1] as
    | (() => Promise<Record<string, number>>)
    | undefined;
  if (fn) Object.assign(results, await fn());
}
Object.assign(results, await benchTransport());
console.log(
  Object.entries(results)
    .map(([k, v]) => `${k}=${v}`)
    .join(" "),
);
