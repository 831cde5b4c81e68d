import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { StreamError } from "./errors.ts";
import { type PlanePair, planePair } from "./pair.fixture.ts";
import { ConfluxStream } from "./stream.ts";
import type { TcpConnection } from "./tcp-conn.ts";
import { TcpStack } from "./tcp-stack.ts";

interface Rig {
  p: PlanePair;
  a: TcpStack;
  b: TcpStack;
}

async function rig(loss = 0): Promise<Rig> {
  const p = await planePair({ loss });
  return { p, a: new TcpStack(p.a, p.ipA), b: new TcpStack(p.b, p.ipB) };
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function readAll(s: ConfluxStream): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s.readable).arrayBuffer());
}

async function writeAll(s: ConfluxStream, data: Uint8Array): Promise<void> {
  const w = s.writable.getWriter();
  for (let i = 0; i < data.length; i += 100_000) await w.write(data.subarray(i, i + 100_000));
  await w.close();
}

describe("userspace TCP between two embedded planes", () => {
  let r: Rig | undefined;
  afterEach(async () => {
    r?.a.close();
    r?.b.close();
    await r?.p.close();
    r = undefined;
  });

  test("both directions, byte-exact, with half close (FIN each way)", async () => {
    r = await rig();
    const up = randomBytes(3_000_000);
    const down = randomBytes(1_000_000);
    const served = new Promise<string>((resolve) => {
      r!.b.listen(80, (c) => {
        const s = new ConfluxStream(c);
        void readAll(s).then(async (got) => {
          await writeAll(s, down); // answers after the client's FIN
          resolve(sha(got));
        });
      });
    });
    const s = new ConfluxStream(await r.a.connect(r.p.ipB, 80));
    const reply = readAll(s);
    await writeAll(s, up);
    expect(await served).toBe(sha(up));
    expect(sha(await reply)).toBe(sha(down));
    await s.closed;
    expect(r.a.counters.dropBadChecksum + r.b.counters.dropBadChecksum).toBe(0);
  }, 30_000);

  test("2 % loss each way: data intact, losses repaired by SACK/RACK rather than timeouts", async () => {
    r = await rig(0.02);
    const data = randomBytes(2_000_000);
    const got = new Promise<string>((resolve) => {
      r!.b.listen(81, (c) => void readAll(new ConfluxStream(c)).then((b) => resolve(sha(b))));
    });
    const conn = await r.a.connect(r.p.ipB, 81);
    await writeAll(new ConfluxStream(conn), data);
    expect(await got).toBe(sha(data));
    const st = conn.sender.stats;
    expect(r.p.relayDropped()).toBeGreaterThan(0);
    expect(st.retransmits).toBeGreaterThan(0);
    expect(st.rtos).toBeLessThanOrEqual(2);
  }, 60_000);

  test("a paused reader closes the window; the writer waits and nothing is lost", async () => {
    r = await rig();
    let server: TcpConnection | undefined;
    const chunks: Uint8Array[] = [];
    r.b.listen(82, (c) => {
      server = c;
      c.setDataHandler((d) => chunks.push(d));
      // not resumed: the application reads nothing yet
    });
    const client = await r.a.connect(r.p.ipB, 82);
    const data = randomBytes(3_000_000);
    let accepted = 0;
    while (accepted < data.length && client.write(data.subarray(accepted, accepted + 65536)))
      accepted += 65536;
    // The 1 MiB window fills up and the sender learns it (waits out a loaded machine).
    const deadline = performance.now() + 15_000;
    while ((server?.receiver.window() ?? 1 << 30) >= 65536 || client.sender.wnd >= 65536) {
      if (performance.now() > deadline) break;
      await Bun.sleep(20);
    }
    expect(server!.receiver.window()).toBeLessThan(65536);
    expect(server!.receiver.queued).toBeGreaterThan(1_000_000 - 65536);
    expect(client.sender.wnd).toBeLessThan(65536);
    const drained = new Promise<void>((res) => {
      client.onDrain = () => res();
    });
    server!.resume();
    await drained;
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBeGreaterThan(1_000_000);
  }, 30_000);

  test("a closed port answers RST: connect is refused", async () => {
    r = await rig();
    const err = await r.a.connect(r.p.ipB, 9).catch((e) => e);
    expect(err).toBeInstanceOf(StreamError);
    expect((err as StreamError).code).toBe("STREAM_REFUSED");
    expect(r.b.counters.resetsSent).toBe(1);
  });

  test("destroy() resets the peer's connection", async () => {
    r = await rig();
    const closed = new Promise<StreamError | null>((resolve) => {
      r!.b.listen(83, (c) => {
        c.onClose = (e) => resolve(e);
        c.resume();
      });
    });
    const c = await r.a.connect(r.p.ipB, 83);
    await Bun.sleep(50);
    c.destroy();
    const e = await closed;
    expect(e?.code).toBe("STREAM_RESET");
  });
});
