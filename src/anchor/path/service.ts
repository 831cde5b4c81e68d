/**
 * Paths at one node: the switch, the paths this node originates, and the paths that end here.
 * This is what a Conflux node wires to its link sessions:
 *
 *   link message of type PathCell, opened  ──▶ service.onCell(link, buf, cellPos, cellLen, now)
 *   service.build(route, handlers, now)    ──▶ OriginPath (send / onData / close / rotateDue)
 *   options.onTerminalData(path, data)     ◀── packets arriving over paths that end here
 *   service.poll(now) every second          ──▶ timeouts, keepalives, rekeys, expiry
 */
import type { AeadBackend } from "../aead/aead.ts";
import type { Identity } from "../identity.ts";
import { CellCmd, KEEPALIVE_BODY_SIZE } from "./cell.ts";
import type { EndToEndHandshake } from "./end-to-end.ts";
import { PathError } from "./errors.ts";
import type { HopInfo } from "./hop-key.ts";
import { type OriginHandlers, OriginPath } from "./origin.ts";
import { type PathEndpoints, type PathLinks, PathSwitch, type PathSwitchOptions } from "./switch.ts";
import { NO_LINK, type PathEntry } from "./table.ts";
import { TerminalPath } from "./terminal.ts";

/* Specification constants */
/** Hops after the origin, destination included. */
export const MAX_PATH_HOPS = 8;

export interface PathServiceOptions extends PathSwitchOptions {
  readonly identity: Identity;
  readonly links: PathLinks;
  readonly backend: AeadBackend;
  readonly e2e: EndToEndHandshake;
  readonly sendDirect: (link: number, plaintext: Uint8Array, now: number) => boolean;
  /** Borrowed `plaintext`. */
  readonly onTerminalData?: (path: TerminalPath, plaintext: Uint8Array, now: number) => void;
  readonly onTerminalOpen?: (path: TerminalPath, now: number) => void;
}

export class PathService implements PathEndpoints {
  readonly sw: PathSwitch;
  readonly origins = new Set<OriginPath>();
  readonly terminals = new Set<TerminalPath>();
  readonly #o: PathServiceOptions;

  constructor(options: PathServiceOptions) {
    this.#o = options;
    this.sw = new PathSwitch(options.identity, options.links, this, options);
  }

  /**
   * Builds a path through `route` (hops after this node, the destination last). Throws PathError
   * for an empty or over-long route, a repeated node, this node itself, or a first hop that is not
   * a neighbour.
   */
  build(route: readonly HopInfo[], handlers: OriginHandlers, now: number): OriginPath {
    if (route.length === 0) throw new PathError("PATH_EMPTY", "a path needs at least one hop");
    if (route.length > MAX_PATH_HOPS) throw new PathError("PATH_TOO_LONG", `at most ${MAX_PATH_HOPS} hops`);
    const seen = new Set<string>([hex(this.#o.identity.nodeId)]);
    for (const hop of route) {
      const id = hex(hop.nodeId);
      if (seen.has(id)) throw new PathError("PATH_REPEATED_NODE", "a node appears twice (or is this node)");
      seen.add(id);
    }
    const link = this.#o.links.linkTo(route[0]!.nodeId);
    if (link === NO_LINK) throw new PathError("PATH_NO_FIRST_LINK", "the first hop is not a neighbour");
    const user = handlers.onClosed;
    const path = new OriginPath(
      route,
      link,
      { sw: this.sw, backend: this.#o.backend, e2e: this.#o.e2e, sendDirect: this.#o.sendDirect },
      {
        ...handlers,
        onClosed: (p, reason, t) => {
          this.origins.delete(p);
          user?.(p, reason, t);
        },
      },
      now,
    );
    if (path.state !== "failed") this.origins.add(path);
    return path;
  }

  /** A decrypted PathCell link message (see PathSwitch.onCell). */
  onCell(link: number, buf: Uint8Array, cellPos: number, cellLen: number, now: number): number {
    return this.sw.onCell(link, buf, cellPos, cellLen, now);
  }

  /** Timers for every path at this node. */
  poll(now: number): void {
    for (const p of [...this.origins]) p.tick(now);
    for (const t of this.terminals) t.tick(now);
    this.sw.poll(now);
  }

  atOrigin(entry: PathEntry, cmd: number, body: Uint8Array, now: number): void {
    const owner = entry.owner;
    if (owner instanceof OriginPath) owner.onCell(cmd, body, now);
  }

  atTerminal(entry: PathEntry, cmd: number, body: Uint8Array, now: number): void {
    const owner = entry.owner instanceof TerminalPath ? entry.owner : null;
    switch (cmd) {
      case CellCmd.Handshake: {
        const step = this.#o.e2e.respond(body.slice(), `path:${entry.upLink}:${entry.upPid}`, now);
        for (const d of step.send) this.sw.sendFromTerminal(entry, CellCmd.Handshake, d, now);
        if (step.keys === null) return;
        if (owner !== null) {
          owner.install(step.keys);
          return;
        }
        const t = new TerminalPath(this.sw, this.#o.backend, entry, step.keys);
        entry.owner = t;
        this.terminals.add(t);
        this.#o.onTerminalOpen?.(t, now);
        return;
      }
      case CellCmd.Data: {
        const plain = owner?.open(body, now);
        if (owner && plain && plain.length > 0) this.#o.onTerminalData?.(owner, plain, now);
        return;
      }
      case CellCmd.Keepalive: {
        if (body[0] !== 0) return;
        const echo = new Uint8Array(KEEPALIVE_BODY_SIZE);
        echo.set(body);
        echo[0] = 1;
        this.sw.sendFromTerminal(entry, CellCmd.Keepalive, echo, now);
        return;
      }
      case CellCmd.Destroy:
        if (owner !== null) {
          owner.close();
          this.terminals.delete(owner);
        }
        return;
    }
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}
