/**
 * UDP hole punching probe (run inside a namespace):
 *   bun _punch.ts LOCAL_PORT PEER_HOST PEER_PORT MS
 * Sends a datagram to the peer every 20 ms for MS ms; prints "got <text> from <addr>:<port>"
 * for the first datagram received and exits 0 after the time is up, or exits 1 if none came.
 */
const [localPort, peerHost, peerPort, ms] = process.argv.slice(2);
let got = "";
const sock = await Bun.udpSocket({
  hostname: "0.0.0.0",
  port: Number(localPort),
  socket: {
    data(_s, buf, port, addr) {
      if (!got) {
        got = `got ${buf.toString()} from ${addr}:${port}`;
        console.log(got);
      }
    },
    error(_s, err) {
      console.log(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`);
    },
  },
});
const host = process.env.VEILNET_TESTNET_HOST ?? "?";
const timer = setInterval(() => {
  try {
    sock.send(`hello-from-${host}`, Number(peerPort), peerHost!);
  } catch {
    // e.g. ENETUNREACH: nothing will come back either.
  }
}, 20);
setTimeout(() => {
  clearInterval(timer);
  sock.close();
  process.exit(got ? 0 : 1);
}, Number(ms));

export {};
