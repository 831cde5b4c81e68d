/**
 * One-way UDP counting for the loss test (run inside a namespace):
 *   bun _udp.ts recv PORT MS          prints "ready", then after MS ms of listening "received N"
 *   bun _udp.ts send HOST PORT COUNT  sends COUNT datagrams, 2 ms apart
 */
const [mode, a, b, c] = process.argv.slice(2);
if (mode === "recv") {
  let n = 0;
  await Bun.udpSocket({
    hostname: "0.0.0.0",
    port: Number(a),
    socket: {
      data() {
        n++;
      },
    },
  });
  console.log("ready");
  setTimeout(() => {
    console.log(`received ${n}`);
    process.exit(0);
  }, Number(b));
} else if (mode === "send") {
  const sock = await Bun.udpSocket({});
  const payload = new Uint8Array(64);
  for (let i = 0; i < Number(c); i++) {
    sock.send(payload, Number(b), a!);
    await Bun.sleep(2);
  }
  sock.close();
} else {
  console.error("usage: _udp.ts recv PORT MS | send HOST PORT COUNT");
  process.exit(2);
}

export {};
