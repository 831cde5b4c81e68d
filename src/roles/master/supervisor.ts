/**
 * Runs the local nats-server processes of a plan and keeps them running: a process that exits is
 * restarted after an exponential backoff with jitter; SIGTERM (stop()) terminates every child
 * cleanly (SIGTERM, then SIGKILL after a grace period). Each child's console output goes to a
 * size-capped log; nats-server itself logs to its own rotating log_file.
 */
import { rmSync, writeFileSync } from "node:fs";
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
import { MasterError } from "./errors.ts";
import { RotatingLog } from "./rotating-log.ts";
import type { ServerLayout } from "./server-config.ts";

/* Implementation constants */
export const STOP_GRACE_MS = 5_000;
export const CONSOLE_LOG_MAX_BYTES = 4 * 1024 * 1024;

export type SupervisorEvent =
  | { type: "started"; server: string; pid: number; restarts: number }
  | {
      type: "exited";
      server: string;
      pid: number;
      code: number | null;
      signal: string | null;
      uptimeMs: number;
    }
  | { type: "restarting"; server: string; delayMs: number; attempt: number }
  | { type: "stopped"; server: string };

export interface SupervisedServer {
  readonly name: string;
  readonly layout: ServerLayout;
}

export interface SupervisorOptions {
  natsServer: string;
  servers: readonly SupervisedServer[];
  backoff?: BackoffPolicy;
  onEvent?: (e: SupervisorEvent) => void;
}

interface Slot {
  readonly server: SupervisedServer;
  readonly log: RotatingLog;
  proc?: ReturnType<typeof Bun.spawn>;
  startedAt: number;
  attempt: number;
  restarts: number;
  timer?: ReturnType<typeof setTimeout>;
  exited?: Promise<void>;
}

export class Supervisor {
  readonly #opts: SupervisorOptions;
  readonly #backoff: BackoffPolicy;
  readonly #slots: Slot[];
  #stopping = false;

  constructor(opts: SupervisorOptions) {
    if (!Bun.which(opts.natsServer) && !opts.natsServer.includes("/")) {
      throw new MasterError("MASTER_NO_NATS_SERVER", `nats-server not found: ${opts.natsServer}`);
    }
    this.#opts = opts;
    this.#backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.#slots = opts.servers.map((server) => ({
      server,
      log: new RotatingLog(server.layout.consoleLog, CONSOLE_LOG_MAX_BYTES),
      startedAt: 0,
      attempt: 0,
      restarts: 0,
    }));
  }

  start(): void {
    for (const slot of this.#slots) this.#spawn(slot);
  }

  /** Current child PIDs by server name (undefined while waiting to restart). */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(
      this.#slots.map((s) => [s.server.name, s.proc?.exitCode === null ? s.proc.pid : undefined]),
    );
  }

  /** Stops every child: SIGTERM, then SIGKILL after STOP_GRACE_MS. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const slot of this.#slots) if (slot.timer) clearTimeout(slot.timer);
    await Promise.all(
      this.#slots.map(async (slot) => {
        const proc = slot.proc;
        if (proc && proc.exitCode === null && proc.signalCode === null) {
          proc.kill("SIGTERM");
          const killer = setTimeout(() => proc.kill("SIGKILL"), STOP_GRACE_MS);
          await slot.exited;
          clearTimeout(killer);
        }
        rmSync(slot.server.layout.pidFile, { force: true });
        slot.log.close();
        this.#emit({ type: "stopped", server: slot.server.name });
      }),
    );
  }

  #spawn(slot: Slot): void {
    if (this.#stopping) return;
    const proc = Bun.spawn([this.#opts.natsServer, "-c", slot.server.layout.config], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    slot.proc = proc;
    slot.startedAt = performance.now();
    writeFileSync(slot.server.layout.pidFile, `${proc.pid}\n`, { mode: 0o644 });
    this.#emit({ type: "started", server: slot.server.name, pid: proc.pid, restarts: slot.restarts });
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) slot.log.write(chunk);
    };
    const pumps = Promise.all([pump(proc.stdout), pump(proc.stderr)]).catch(() => {});
    slot.exited = proc.exited.then(async () => {
      await pumps;
      const uptimeMs = performance.now() - slot.startedAt;
      this.#emit({
        type: "exited",
        server: slot.server.name,
        pid: proc.pid,
        code: proc.exitCode,
        signal: proc.signalCode === null ? null : String(proc.signalCode),
        uptimeMs: Math.round(uptimeMs),
      });
      if (this.#stopping) return;
      if (uptimeMs >= this.#backoff.stableMs) slot.attempt = 0;
      const delayMs = backoffDelay(this.#backoff, slot.attempt);
      this.#emit({ type: "restarting", server: slot.server.name, delayMs, attempt: slot.attempt });
      slot.attempt++;
      slot.restarts++;
      slot.timer = setTimeout(() => this.#spawn(slot), delayMs);
    });
  }

  #emit(e: SupervisorEvent): void {
    this.#opts.onEvent?.(e);
  }
}
