/**
 * A tiny TCP probe for the scenario tests (run inside a namespace):
 *   bun _tcp.ts listen PORT              prints "listening", then "peer ADDR" per connection
 *   bun _tcp.ts connect HOST PORT MS     prints what the server sent; exit 0, or 1 on failure/timeout
 */
const [mode, a, b, c] = process.argv.slice(2);

if (mode === "listen") {
  Bun.listen({
    hostname: "0.0.0.0",
    port: Number(a),
    socket: {
      open(s) {
        console.log(`peer ${s.remoteAddress}`);
        s.end("hello\n");
      },
      data() {},
    },
  });
  console.log("listening");
} else if (mode === "connect") {
  const timer = setTimeout(() => {
    console.log("timeout");
    process.exit(1);
  }, Number(c));
  let got = "";
  try {
    await Bun.connect({
      hostname: a!,
      port: Number(b),
      socket: {
        data(_s, d) {
          got += d.toString();
        },
        close() {
          clearTimeout(timer);
          console.log(got.trim() || "closed");
          process.exit(got ? 0 : 1);
        },
        error(_s, err) {
          console.log(`error ${err.message}`);
          process.exit(1);
        },
      },
    });
  } catch (err) {
    console.log(`failed ${(err as Error).message}`);
    process.exit(1);
  }
} else {
  console.error("usage: _tcp.ts listen PORT | connect HOST PORT TIMEOUT_MS");
  process.exit(2);
}

export {};
