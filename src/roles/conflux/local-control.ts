/**
 * The node's local control socket: a Unix socket in the state directory (0600) that answers one
 * JSON request per line, e.g. {"cmd":"status"} → {"ok":true,"result":{...}}. `veilnet status` and
 * `veilnet routes` are its clients. Requests are bounded in size; unknown commands get an error.
 */
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import { VeilnetError } from "../../errors.ts";

export const LOCAL_CONTROL_SOCKET = "veilnet.sock";
const MAX_REQUEST_BYTES = 4096;

export type LocalHandler = (args: Record<string, unknown>) => unknown | Promise<unknown>;

export class LocalControlError extends VeilnetError {
  override readonly name = "LocalControlError";
}

export class LocalControlServer {
  readonly #listener: UnixSocketListener<{ buffer: string }>;
  readonly #path: string;

  private constructor(listener: UnixSocketListener<{ buffer: string }>, path: string) {
    this.#listener = listener;
    this.#path = path;
  }

  static listen(path: string, handlers: Record<string, LocalHandler>): LocalControlServer {
    if (existsSync(path)) unlinkSync(path); // a stale socket from a crashed run
    const listener = Bun.listen<{ buffer: string }>({
      unix: path,
      socket: {
        open(socket) {
          socket.data = { buffer: "" };
        },
        data(socket, chunk) {
          socket.data.buffer += chunk.toString();
          if (socket.data.buffer.length > MAX_REQUEST_BYTES) {
            reply(socket, { ok: false, error: "request too large" });
            return;
          }
          const newline = socket.data.buffer.indexOf("\n");
          if (newline < 0) return;
          const line = socket.data.buffer.slice(0, newline);
          socket.data.buffer = "";
          void answer(line, handlers).then((response) => reply(socket, response));
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

async function answer(line: string, handlers: Record<string, LocalHandler>): Promise<unknown> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { ok: false, error: "request is not JSON" };
  }
  if (
    typeof request !== "object" ||
    request === null ||
    typeof (request as { cmd?: unknown }).cmd !== "string"
  ) {
    return { ok: false, error: "request needs a string 'cmd'" };
  }
  const { cmd, ...args } = request as { cmd: string } & Record<string, unknown>;
  const handler = Object.hasOwn(handlers, cmd) ? handlers[cmd] : undefined;
  if (!handler)
    return { ok: false, error: `unknown command '${cmd}' (valid: ${Object.keys(handlers).join(", ")})` };
  try {
    return { ok: true, result: await handler(args) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

function reply(socket: Socket<{ buffer: string }>, response: unknown): void {
  socket.end(`${JSON.stringify(response)}\n`);
}

/** Sends one request to a running node and returns its result, or throws a typed error. */
export async function requestLocal(
  path: string,
  cmd: string,
  args: Record<string, unknown> = {},
): Promise<unknown> {
  if (!existsSync(path)) {
    throw new LocalControlError("LOCAL_NO_NODE", `no node is running with control socket ${path}`);
  }
  const response = await new Promise<string>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(
      () => reject(new LocalControlError("LOCAL_TIMEOUT", "node did not answer in 5 s")),
      5000,
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
          reject(err);
        },
      },
    }).catch((err: unknown) => {
      clearTimeout(timer);
      reject(new LocalControlError("LOCAL_CONNECT", `cannot reach node at ${path}: ${String(err)}`));
    });
  });
  const parsed = JSON.parse(response) as { ok: boolean; result?: unknown; error?: string };
  if (!parsed.ok) throw new LocalControlError("LOCAL_REFUSED", parsed.error ?? "request failed");
  return parsed.result;
}
