/**
 * A local control socket: a Unix socket in a role's state directory (0600, so root-only when the
 * role runs as root) that answers one JSON request per line, e.g. {"cmd":"status"} →
 * {"ok":true,"result":{...}}. A stream command ({"cmd":"events","follow":true}) answers
 * {"ok":true,"stream":true} and then one JSON event per line until the client closes; a slow
 * client loses events (counted and reported), never the server's time (event-follower.ts).
 * The node serves `veilnet status|peers|sessions|routes|counters|events|metrics` on its
 * LOCAL_CONTROL_SOCKET (roles/conflux/config.ts); the Guardian serves `veilnet admin` on its admin
 * socket. Requests are bounded in size; unknown commands get an error.
 */
import { chmodSync, existsSync, statSync, unlinkSync } from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import { VeilnetError } from "../errors.ts";
import { EventFollower } from "./event-follower.ts";

const MAX_REQUEST_BYTES = 4096;
/** A one-shot request the node has not answered by then is given up. */
export const LOCAL_REQUEST_TIMEOUT_MS = 5_000;

export type LocalHandler = (args: Record<string, unknown>) => unknown | Promise<unknown>;
/**
 * Starts a stream for one client: push events into `follower` from now on and return the function
 * that stops it (called when the client goes). Throw to refuse.
 */
export type LocalStreamHandler = (args: Record<string, unknown>, follower: EventFollower) => () => void;

export class LocalControlError extends VeilnetError {
  override readonly name = "LocalControlError";
}

interface Conn {
  buffer: string;
  follower?: EventFollower;
  stop?: () => void;
}

export class LocalControlServer {
  readonly #listener: UnixSocketListener<Conn>;
  readonly #path: string;

  private constructor(listener: UnixSocketListener<Conn>, path: string) {
    this.#listener = listener;
    this.#path = path;
  }

  static listen(
    path: string,
    handlers: Record<string, LocalHandler>,
    streams: Record<string, LocalStreamHandler> = {},
  ): LocalControlServer {
    if (existsSync(path)) unlinkSync(path); // a stale socket from a crashed run
    const listener = Bun.listen<Conn>({
      unix: path,
      socket: {
        open(socket) {
          socket.data = { buffer: "" };
        },
        data(socket, chunk) {
          if (socket.data.follower) return; // a stream reads nothing more
          socket.data.buffer += chunk.toString();
          if (socket.data.buffer.length > MAX_REQUEST_BYTES) {
            reply(socket, { ok: false, error: "request too large" });
            return;
          }
          const newline = socket.data.buffer.indexOf("\n");
          if (newline < 0) return;
          const line = socket.data.buffer.slice(0, newline);
          socket.data.buffer = "";
          const request = parseRequest(line);
          if ("error" in request) return reply(socket, { ok: false, error: request.error });
          const stream =
            request.args.follow === true && Object.hasOwn(streams, request.cmd)
              ? streams[request.cmd]
              : undefined;
          if (stream) return startStream(socket, request, stream);
          void answer(request, handlers).then((response) => reply(socket, response));
        },
        drain(socket) {
          socket.data.follower?.flush();
        },
        close(socket) {
          socket.data.follower?.close();
          socket.data.stop?.();
        },
        error(socket) {
          socket.data.follower?.close();
          socket.data.stop?.();
        },
      },
    });
    chmodSync(path, 0o600);
    return new LocalControlServer(listener, path);
  }

  stop(): void {
    this.#listener.stop(true);
    if (existsSync(this.#path)) unlinkSync(this.#path);
  }
}

type Request = { cmd: string; args: Record<string, unknown> } | { error: string };

function parseRequest(line: string): Request {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { error: "request is not JSON" };
  }
  if (
    typeof request !== "object" ||
    request === null ||
    Array.isArray(request) ||
    typeof (request as { cmd?: unknown }).cmd !== "string"
  ) {
    return { error: "request needs a string 'cmd'" };
  }
  const { cmd, ...args } = request as { cmd: string } & Record<string, unknown>;
  return { cmd, args };
}

function startStream(
  socket: Socket<Conn>,
  request: { cmd: string; args: Record<string, unknown> },
  stream: LocalStreamHandler,
): void {
  const follower = new EventFollower((bytes) => socket.write(bytes));
  socket.data.follower = follower; // from now on the socket reads nothing more
  try {
    socket.data.stop = stream(request.args, follower);
  } catch (err) {
    follower.close();
    reply(socket, refusal(err));
    return;
  }
  follower.greet({ ok: true, stream: true }); // ahead of any replayed events
}

async function answer(
  { cmd, args }: { cmd: string; args: Record<string, unknown> },
  handlers: Record<string, LocalHandler>,
): Promise<unknown> {
  const handler = Object.hasOwn(handlers, cmd) ? handlers[cmd] : undefined;
  if (!handler)
    return { ok: false, error: `unknown command '${cmd}' (valid: ${Object.keys(handlers).join(", ")})` };
  try {
    return { ok: true, result: await handler(args) };
  } catch (err) {
    return refusal(err);
  }
}

/** A handler's error as an answer: its message, and its code when it has one (VeilnetError). */
function refusal(err: unknown): { ok: false; error: string; code?: string } {
  const error = err instanceof Error ? err.message : String(err);
  return err instanceof VeilnetError ? { ok: false, error, code: err.code } : { ok: false, error };
}

/**
 * The code a refusal carries, if it is one a client may rethrow: upper-case words, and never a
 * LOCAL_* code, which name what happened on the socket itself (a caller that falls back on
 * LOCAL_NO_NODE must not be told that by a handler).
 */
const REMOTE_CODE = /^(?!LOCAL_)[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;
const MAX_CODE_LENGTH = 64;

function refusedError(parsed: { error?: unknown; code?: unknown }): LocalControlError {
  const message = typeof parsed.error === "string" ? parsed.error : "request failed";
  const c = parsed.code;
  const code =
    typeof c === "string" && c.length <= MAX_CODE_LENGTH && REMOTE_CODE.test(c) ? c : "LOCAL_REFUSED";
  return new LocalControlError(code, message);
}

function reply(socket: Socket<Conn>, response: unknown): void {
  socket.end(`${JSON.stringify(response)}\n`);
}

/**
 * Why a client cannot reach the node, as one line: no socket (node not running or another state
 * directory), permission denied (the socket is root-only), or a stale socket nobody listens on.
 */
export function connectError(path: string, err: unknown): LocalControlError {
  const code = (err as { code?: string } | undefined)?.code ?? "";
  if (code === "ENOENT" || code === "ENOTDIR")
    return new LocalControlError(
      "LOCAL_NO_NODE",
      `no node is running: no control socket at ${path} (is --state the node's state directory?)`,
    );
  if (code === "EACCES" || code === "EPERM")
    return new LocalControlError(
      "LOCAL_PERMISSION",
      `permission denied on ${path}: the control socket is root-only (run as root)`,
    );
  if (code === "ECONNREFUSED")
    return new LocalControlError(
      "LOCAL_NO_NODE",
      `no node is running: nothing listens on the control socket ${path}`,
    );
  return new LocalControlError("LOCAL_CONNECT", `cannot reach the node at ${path}: ${String(err)}`);
}

/** Throws the one-line reason when the socket is missing or not ours to use. */
function checkSocket(path: string): void {
  try {
    statSync(path);
  } catch (err) {
    throw connectError(path, err);
  }
}

/** Sends one request to a running node and returns its result, or throws a typed error. */
export async function requestLocal(
  path: string,
  cmd: string,
  args: Record<string, unknown> = {},
  timeoutMs = LOCAL_REQUEST_TIMEOUT_MS,
): Promise<unknown> {
  checkSocket(path);
  const response = await new Promise<string>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(
      () => reject(new LocalControlError("LOCAL_TIMEOUT", `no answer on ${path} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    Bun.connect({
      unix: path,
      socket: {
        open(socket) {
          socket.write(`${JSON.stringify({ cmd, ...args })}\n`);
        },
        data(_socket, chunk) {
          text += chunk.toString();
        },
        close() {
          clearTimeout(timer);
          resolve(text);
        },
        error(_socket, err) {
          clearTimeout(timer);
          reject(connectError(path, err));
        },
      },
    }).catch((err: unknown) => {
      clearTimeout(timer);
      reject(connectError(path, err));
    });
  });
  const parsed = parseResponse(response);
  if (!parsed.ok) throw refusedError(parsed);
  return parsed.result;
}

function parseResponse(text: string): {
  ok: boolean;
  result?: unknown;
  error?: string;
  code?: unknown;
  stream?: boolean;
} {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === "object" && v !== null && typeof (v as { ok?: unknown }).ok === "boolean")
      return v as { ok: boolean };
  } catch {
    // fall through
  }
  return { ok: false, error: `malformed answer from the node: ${JSON.stringify(text.slice(0, 80))}` };
}

export interface LocalFollow {
  /** Resolves when the node closes the stream (it stopped), rejects if it refused. */
  readonly done: Promise<void>;
  close(): void;
}

/**
 * Opens a stream ({"cmd":cmd,"follow":true,...args}) and calls `onValue` with each JSON line after
 * the node's first answer. Lines that are not JSON are skipped.
 */
export function followLocal(
  path: string,
  cmd: string,
  args: Record<string, unknown>,
  onValue: (value: unknown) => void,
): LocalFollow {
  let closeSocket: () => void = () => {};
  let closed = false;
  const done = new Promise<void>((resolve, reject) => {
    checkSocket(path);
    let text = "";
    let greeted = false;
    Bun.connect({
      unix: path,
      socket: {
        open(socket) {
          closeSocket = () => void socket.end();
          if (closed) {
            socket.end();
            return;
          }
          socket.write(`${JSON.stringify({ cmd, ...args, follow: true })}\n`);
        },
        data(socket, chunk) {
          text += chunk.toString();
          for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n")) {
            const line = text.slice(0, nl);
            text = text.slice(nl + 1);
            if (!greeted) {
              const head = parseResponse(line);
              if (!head.ok || !head.stream) {
                reject(refusedError({ error: head.error ?? "the node refused the stream", code: head.code }));
                socket.end();
                return;
              }
              greeted = true;
              continue;
            }
            let value: unknown;
            try {
              value = JSON.parse(line);
            } catch {
              continue; // a line that is not JSON is skipped
            }
            onValue(value);
          }
        },
        close() {
          resolve();
        },
        error(_socket, err) {
          reject(connectError(path, err));
        },
      },
    }).catch((err: unknown) => reject(connectError(path, err)));
  });
  return {
    done,
    close: () => {
      closed = true;
      closeSocket();
    },
  };
}
