/**
 * The test side of `_node.ts`: starts it in a mesh host's namespace and turns its JSON lines into
 * awaited answers and a searchable event log.
 */
import { join } from "node:path";
import type { Mesh, MeshProcess } from "../mesh.ts";

const NODE = join(import.meta.dir, "_node.ts");
export const CALL_TIMEOUT_MS = 15_000;

export interface NodeEvent {
  readonly ev: string;
  readonly [k: string]: unknown;
}

type Answer = Record<string, unknown> & { ok: boolean; error?: string };

export class NodeProcess {
  readonly host: string;
  readonly events: NodeEvent[] = [];
  readonly #proc: MeshProcess;
  readonly #pending = new Map<number, (a: Answer) => void>();
  readonly #stderr: string[] = [];
  #next = 1;
  #wake: (() => void) | undefined;

  private constructor(host: string, proc: MeshProcess) {
    this.host = host;
    this.#proc = proc;
    void this.#read();
    void (async () => {
      if (!proc.stderr) return;
      for await (const c of proc.stderr) this.#stderr.push(new TextDecoder().decode(c));
    })().catch(() => {});
  }

  static start(net: Mesh, host: string): NodeProcess {
    return new NodeProcess(host, net.spawn(host, [process.execPath, NODE], { stdin: "pipe" }));
  }

  get pid(): number {
    return this.#proc.pid;
  }

  /** Sends one command; resolves with its answer, rejects with its error. */
  async call(op: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const answer = new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.host}: ${op} timed out\n${this.#stderr.join("")}`));
      }, CALL_TIMEOUT_MS);
      this.#pending.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
    });
    const stdin = this.#proc.stdin;
    if (!stdin) throw new Error("node process has no stdin");
    stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    await stdin.flush();
    const a = await answer;
    if (!a.ok) throw new Error(`${this.host}: ${op}: ${a.error}`);
    return a;
  }

  /** The first event (from index `from`) matching `match`, waiting up to `timeoutMs`. */
  async waitEvent(
    match: (e: NodeEvent) => boolean,
    timeoutMs = 3_000,
    from = 0,
  ): Promise<NodeEvent | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, Math.min(left, 50));
      });
    }
  }

  /** Messages received with `tag` (from event index `from`). */
  messages(tag: string, from = 0): NodeEvent[] {
    return this.events.slice(from).filter((e) => e.ev === "msg" && e.tag === tag);
  }

  async stop(): Promise<void> {
    await this.#proc.stop(2_000);
  }

  async #read(): Promise<void> {
    const stdout = this.#proc.stdout;
    if (!stdout) return;
    const td = new TextDecoder();
    let buf = "";
    for await (const chunk of stdout) {
      buf += td.decode(chunk, { stream: true });
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let o: Record<string, unknown>;
        try {
          o = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (typeof o.id === "number") {
          this.#pending.get(o.id)?.(o as Answer);
          this.#pending.delete(o.id);
        } else if (typeof o.ev === "string") {
          this.events.push(o as NodeEvent);
          this.#wake?.();
        }
      }
    }
  }
}
