/**
 * Where a Worker's code lives. Under `bun run` it sits beside the module that spawns it. Inside a
 * `bun build --compile` executable it is an extra entry point stored as `.js` under the bundle
 * root (`/$bunfs/root/` + its path relative to the common directory of all entry points), and
 * `import.meta.url` names the executable, not the module — so probe the known layouts.
 */
import { existsSync } from "node:fs";
import { DataplaneUnavailableError } from "./errors.ts";

/**
 * @param bundledPath the Worker's path relative to `src/` (e.g. `roles/conflux/dataplane/x.worker.ts`)
 * @param relative    the Worker's path relative to the calling module (e.g. `./x.worker.ts`)
 * @param metaUrl     the calling module's `import.meta.url`
 */
export function workerUrl(bundledPath: string, relative: string, metaUrl: string): string {
  if (!metaUrl.includes("$bunfs")) return new URL(relative, metaUrl).href;
  const js = (p: string) => p.replace(/\.ts$/, ".js");
  const base = bundledPath.split("/").pop()!;
  const candidates = [
    `/$bunfs/root/${js(bundledPath)}`, // compile.sh: entry points under src/, root = src/
    `/$bunfs/root/src/${js(bundledPath)}`, // root = the repository
    `/$bunfs/root/${js(base)}`, // root = the Worker's own folder
    new URL(js(relative), metaUrl).pathname,
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new DataplaneUnavailableError(
      "DP_WORKER_NOT_BUNDLED",
      `${bundledPath} is not in this executable: list src/**/*.worker.ts as entry points (compile.sh does)`,
    );
  }
  return found;
}
