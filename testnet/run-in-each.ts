/**
 * Starts a command in the background in every host of a run (routers too with --routers):
 *
 *   bun testnet/run-in-each.ts [--prefix P] [--hosts a,b] [--routers] -- CMD ARGS...
 *
 * `{host}` in CMD/ARGS is replaced by the host name. The same as `testnet/mesh.sh each`; output
 * goes to the run's logs/<host>.log, and `mesh.sh down` stops every process started this way.
 * From TypeScript use `mesh.spawnEach(argv)`.
 */
import { main } from "./cli.ts";

main(["each", ...process.argv.slice(2)]).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`run-in-each: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
