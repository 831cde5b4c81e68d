/**
 * A control-plane node as its own process, run inside a mesh host's namespace by the Master netns
 * tests. It speaks JSON lines: commands on stdin (`{ id, op, … }`), answers (`{ id, ok, … }`) and
 * events (`{ ev, … }`) on stdout. Credentials and the identity secret arrive over stdin, never on
 * the command line and never echoed. Times are wall-clock milliseconds with sub-millisecond
 * precision (`performance.timeOrigin + performance.now()`), comparable across processes.
 *
 *   connect  { servers, caPem, creds, identity?, name?, first? }   identity = base64 secret; without
 *                                                                 it, a raw connection (no envelopes)
 *   hello                         → { nodeId, keys }  (public keys, base64)
 *   addPeer  { keys }             → { nodeId }
 *   subscribe { subject, tag, echo? }   events { ev: "msg", tag, subject, sender, body, sealed, at }
 *   publish  { subject, body }    signed;  send { peer, subject, body }  sealed to peer (node id hex)
 *   request  { peer, subject, body }     → { body, sender, sealed, rttMs }
 *   rawSubscribe { subject, tag } events { ev: "raw", tag, subject, data };  rawPublish { subject, data }
 *   pushAccount { jwt, operator, expect }   (on a system-user connection) → { updated, failed }
 *   probe    { servers, caPem, creds }   → { result: "connected" | error message, ms }
 *   drops / server / flush / close
 * Connection events: { ev: "conn", type, server, at, downMs? }.
 */
import { connect, jwtAuthenticator } from "nats";
import { Identity, type PublicKeys } from "../../src/anchor/identity.ts";
import { pushAccountJwt } from "../../src/control/account-push.ts";
import { ControlChannel } from "../../src/control/channel.ts";
import { ControlConnection, type ControlCredentials } from "../../src/control/connection.ts";
import { Subjects } from "../../src/control/subjects.ts";

/* Implementation constants */
export const NODE_SEND_RATE = Object.freeze({ perSecond: 50, burst: 50 });
export const PROBE_TIMEOUT_MS = 4_000;

type Command = Record<string, unknown> & { id: number; op: string };

const te = new TextEncoder();
const td = new TextDecoder();
const now = () => performance.timeOrigin + performance.now();
const b64 = (u: Uint8Array) => Buffer.from(u).toString("base64");
const unb64 = (s: unknown) => new Uint8Array(Buffer.from(String(s), "base64"));
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

let identity: Identity | undefined;
let connection: ControlConnection | undefined;
let channel: ControlChannel | undefined;

function keysOf(raw: unknown): PublicKeys {
  const k = raw as Record<string, unknown>;
  return {
    ed25519: unb64(k.ed25519),
    mldsa65: unb64(k.mldsa65),
    x25519: unb64(k.x25519),
    mlkem768: unb64(k.mlkem768),
  };
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`not connected (${what})`);
  return v;
}

async function handle(c: Command): Promise<object> {
  switch (c.op) {
    case "connect": {
      const creds = c.creds as ControlCredentials;
      identity = c.identity ? Identity.fromSecret(unb64(c.identity)) : undefined;
      const idHex = identity ? Buffer.from(identity.nodeId).toString("hex") : undefined;
      connection = await ControlConnection.connect({
        servers: c.servers as string[],
        caPem: String(c.caPem),
        credentials: creds,
        name: String(c.name ?? "node"),
        noRandomize: true,
        ...(idHex ? { inboxPrefix: Subjects.inboxPrefix(idHex) } : {}),
      });
      connection.onEvent((e) => {
        const at = now();
        out({
          ev: "conn",
          type: e.type,
          server: "server" in e ? e.server : "",
          at,
          ...("downMs" in e ? { downMs: e.downMs } : {}),
        });
      });
      if (identity) channel = new ControlChannel({ identity, connection, sendRate: NODE_SEND_RATE });
      await connection.flush();
      return { server: connection.server, nodeId: idHex };
    }
    case "hello": {
      const id = need(identity, "hello");
      const k = id.publicKeys;
      return {
        nodeId: Buffer.from(id.nodeId).toString("hex"),
        keys: {
          ed25519: b64(k.ed25519),
          mldsa65: b64(k.mldsa65),
          x25519: b64(k.x25519),
          mlkem768: b64(k.mlkem768),
        },
      };
    }
    case "addPeer":
      return { nodeId: need(channel, "addPeer").directory.add(keysOf(c.keys)).nodeIdHex };
    case "subscribe": {
      const tag = String(c.tag);
      const echo = c.echo === true;
      need(channel, "subscribe").subscribe(String(c.subject), (m) => {
        out({
          ev: "msg",
          tag,
          subject: m.subject,
          sender: m.senderId,
          body: td.decode(m.body),
          sealed: m.sealed,
          at: now(),
        });
        return echo ? te.encode(`pong:${td.decode(m.body)}`) : undefined;
      });
      await need(connection, "subscribe").flush();
      return {};
    }
    case "publish":
      await need(channel, "publish").publish(String(c.subject), te.encode(String(c.body)));
      return { at: now() };
    case "send": {
      const ch = need(channel, "send");
      const peer = ch.directory.get(String(c.peer));
      if (!peer) throw new Error("unknown peer");
      await ch.send(peer, String(c.subject), te.encode(String(c.body)));
      return { at: now() };
    }
    case "request": {
      const ch = need(channel, "request");
      const peer = ch.directory.get(String(c.peer));
      if (!peer) throw new Error("unknown peer");
      const t0 = now();
      const r = await ch.request(String(c.subject), te.encode(String(c.body)), { peer, timeoutMs: 5_000 });
      return { body: td.decode(r.body), sender: r.senderId, sealed: r.sealed, rttMs: now() - t0 };
    }
    case "rawSubscribe": {
      const tag = String(c.tag);
      need(connection, "rawSubscribe").subscribe(String(c.subject), (m) =>
        out({ ev: "raw", tag, subject: m.subject, data: b64(m.data), at: now() }),
      );
      await need(connection, "rawSubscribe").flush();
      return {};
    }
    case "rawPublish":
      need(connection, "rawPublish").publish(String(c.subject), unb64(c.data));
      await need(connection, "rawPublish").flush();
      return {};
    case "pushAccount": {
      const r = await pushAccountJwt(
        need(connection, "pushAccount"),
        String(c.jwt),
        String(c.operator),
        Number(c.expect),
      );
      return { updated: r.updated, failed: r.failed };
    }
    case "probe": {
      const t0 = now();
      const result = await probe(c);
      return { result, ms: now() - t0 };
    }
    case "drops":
      return { drops: need(channel, "drops").drops.snapshot() };
    case "server":
      return { server: need(connection, "server").server };
    case "flush":
      await need(connection, "flush").flush();
      return {};
    case "close":
      await connection?.close();
      connection = undefined;
      channel = undefined;
      return {};
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

/** One connection attempt without reconnects: "connected" or the server's/TLS's refusal. */
async function probe(c: Command): Promise<string> {
  const creds = c.creds as Partial<ControlCredentials> & { jwt: string; seed: string };
  try {
    const nc = await connect({
      servers: c.servers as string[],
      tls: { ca: String(c.caPem), ...(creds.certPem ? { cert: creds.certPem, key: creds.keyPem } : {}) },
      authenticator: jwtAuthenticator(creds.jwt, te.encode(creds.seed)),
      reconnect: false,
      timeout: PROBE_TIMEOUT_MS,
    });
    await nc.flush();
    await nc.close();
    return "connected";
  } catch (e) {
    return String((e as Error).message || e);
  }
}

let buffered = "";
for await (const chunk of Bun.stdin.stream()) {
  buffered += td.decode(chunk, { stream: true });
  for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line.trim() === "") continue;
    let cmd: Command;
    try {
      cmd = JSON.parse(line) as Command;
    } catch {
      out({ ev: "error", message: "bad command line" });
      continue;
    }
    handle(cmd).then(
      (r) => out({ id: cmd.id, ok: true, ...r }),
      (e) => out({ id: cmd.id, ok: false, error: String((e as Error)?.message ?? e) }),
    );
  }
}
await connection?.close();
process.exit(0);
