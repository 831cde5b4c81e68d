/**
 * Plays a test process that owns a run: brings up `pair` with the given prefix, starts a long
 * `sleep` in h1 and a delayed link, prints "ready <sleep pid>", then waits for a signal
 * (SIGKILL: a crash that leaves everything behind; SIGTERM: the harness cleans up and exits).
 */
import { Mesh } from "../mesh.ts";

const prefix = process.argv[2]!;
const net = await Mesh.up({ topology: "pair", prefix });
const sleeper = net.spawn("h1", ["sleep", "600"], { stdout: "ignore", stderr: "ignore" });
await net.link("h1", "h2").delay(10);
console.log(`ready ${sleeper.pid}`);
setInterval(() => {}, 1000);
