/**
 * A path this node builds (telescoping) and uses: the origin's state machine.
 *
 *   Creating ──CREATED(ok)──▶ Extending(k) ──EXTENDED(ok)…──▶ Handshaking ──keys──▶ Ready
 *       └────────────── DESTROY / refusal / timeout ─────────────▶ Failed      close() ─▶ Closed
 *
 * Each hop gets its own hop keys (hop-key.ts) so each EXTEND is readable only by the current tail.
 * Once the destination is the tail, an end-to-end handshake runs over HANDSHAKE cells and DATA
 * cells carry end-to-end transport messages; relays only ever see ciphertext and path ids.
 * A one-hop route is `direct`: it uses the link session itself and never encrypts twice.
 */
import type { AeadBackend } from "../aead/aead.ts";
import { MsgType } from "../message-type.ts";
import { Action, Session } from "../session.ts";
import { TRANSPORT_HEADER_SIZE, TRANSPORT_MIN_SIZE } from "../transport.ts";
import { CellCmd, EXTENDED_OK_SIZE, KEEPALIVE_BODY_SIZE, MAX_CELL_BODY } from "./cell.ts";
import type { E2EStep, EndToEndHandshake, EndToEndInitiator } from "./end-to-end.ts";
import { PathRefusal } from "./errors.ts";
import { checkConfirm, type HopInfo, type HopKeys, makeSkin, sealExtend } from "./hop-key.ts";
import type { PathSwitch } from "./switch.ts";
import type { PathEntry } from "./table.ts";

/* Specification constants */
/** Give up building a path after this long. */
export const PATH_BUILD_TIMEOUT_MS = 10_000;
/** Origin probes the path (keepalive cell, echoed by the tail) this often. */
export const PATH_KEEPALIVE_MS = 15_000;
/** Make-before-break: start a replacement this long after the path became ready. */
export const PATH_ROTATE_AFTER_MS = 8 * 60_000;
/** Close a replaced path after this grace period (in-flight cells drain). */
export const PATH_DRAIN_MS = 5_000;
/** Largest plaintext one DATA cell carries (end-to-end header + tag inside the cell body). */
export const MAX_PATH_PAYLOAD = MAX_CELL_BODY - TRANSPORT_MIN_SIZE;

export const PathState = {
  Creating: "creating",
  Extending: "extending",
  Handshaking: "handshaking",
  Ready: "ready",
  Failed: "failed",
  Closed: "closed",
} as const;
export type PathState = (typeof PathState)[keyof typeof PathState];

export interface OriginHandlers {
  onReady?(path: OriginPath, now: number): void;
  /** Borrowed: `plaintext` is valid only during the call. */
  onData?(path: OriginPath, plaintext: Uint8Array, now: number): void;
  onClosed?(path: OriginPath, reason: number, now: number): void;
}

export interface OriginDeps {
  readonly sw: PathSwitch;
  readonly backend: AeadBackend;
  readonly e2e: EndToEndHandshake;
  /** Sends an IP packet directly over the link session (direct paths only). */
  readonly sendDirect: (link: number, plaintext: Uint8Array, now: number) => boolean;
}

export class OriginPath {
  readonly route: readonly HopInfo[];
  readonly kind: "direct" | "relayed";
  readonly createdAt: number;
  /** End-to-end session (relayed paths). */
  readonly session: Session;
  state: PathState;
  readyAt = Number.NaN;
  /** Round-trip time of the last echoed keepalive probe, ms. */
  lastRttMs = Number.NaN;
  closeReason: number = PathRefusal.Ok;
  entry: PathEntry | null = null;
  readonly #deps: OriginDeps;
  readonly #handlers: OriginHandlers;
  readonly #hopKeys: HopKeys[] = [];
  readonly #link: number;
  #reached = 0;
  #extendSeq = 0;
  #initiator: EndToEndInitiator | null = null;
  #lastProbeAt = Number.NEGATIVE_INFINITY;
  #probeToken = 0;

  constructor(
    route: readonly HopInfo[],
    link: number,
    deps: OriginDeps,
    handlers: OriginHandlers,
    now: number,
  ) {
    this.route = route;
    this.kind = route.length === 1 ? "direct" : "relayed";
    this.createdAt = now;
    this.#deps = deps;
    this.#handlers = handlers;
    this.#link = link;
    this.session = new Session(deps.backend);
    if (this.kind === "direct") {
      this.state = PathState.Ready;
      this.readyAt = now;
      return;
    }
    this.state = PathState.Creating;
    const { skin, keys } = makeSkin(route[0]!);
    this.#hopKeys.push(keys);
    this.entry = deps.sw.originate(link, skin, this, now);
    if (this.entry === null) this.state = PathState.Failed;
  }

  /** How many hops have confirmed so far. */
  get reached(): number {
    return this.#reached;
  }

  /** Sends one packet end to end. False when the path cannot carry it now (not ready, too large). */
  send(plaintext: Uint8Array, now: number): boolean {
    if (this.state !== PathState.Ready) return false;
    if (this.kind === "direct") return this.#deps.sendDirect(this.#link, plaintext, now);
    if (plaintext.length > MAX_PATH_PAYLOAD || !this.session.canSend(now)) return false;
    return this.#sendData(plaintext, now);
  }

  /** True when the owner should build a replacement (make-before-break). */
  rotateDue(now: number): boolean {
    return this.state === PathState.Ready && now - this.readyAt >= PATH_ROTATE_AFTER_MS;
  }

  /** Tears the path down (DESTROY along it) and wipes the end-to-end keys. */
  close(now: number, reason: number = PathRefusal.Closed): void {
    if (this.state === PathState.Closed || this.state === PathState.Failed) return;
    this.#finish(PathState.Closed, reason, now, true);
  }

  /** Timers: build timeout, handshake retransmission, end-to-end rekey and keepalives, probes. */
  tick(now: number): void {
    if (this.kind === "direct" || this.state === PathState.Closed || this.state === PathState.Failed) return;
    if (
      this.state !== PathState.Ready &&
      now - this.createdAt >= PATH_BUILD_TIMEOUT_MS &&
      Number.isNaN(this.readyAt)
    ) {
      this.#finish(PathState.Failed, PathRefusal.Expired, now, true);
      return;
    }
    if (this.#initiator !== null) this.#onStep(this.#initiator.tick(now), now);
    if (this.state !== PathState.Ready) return;
    const flags = this.session.poll(now);
    if (flags & Action.Rekey && this.#initiator === null) {
      this.session.rekeyStarted(now);
      this.#startHandshake(now);
    }
    if (flags & Action.Keepalive) this.#sendData(new Uint8Array(0), now);
    if (now - this.#lastProbeAt >= PATH_KEEPALIVE_MS) {
      this.#lastProbeAt = now;
      const probe = new Uint8Array(KEEPALIVE_BODY_SIZE);
      this.#probeToken = now;
      new DataView(probe.buffer).setFloat64(1, now, true);
      this.#deps.sw.sendFromOrigin(this.entry!, CellCmd.Keepalive, probe, now);
    }
  }

  /** Backward cells from the switch. `body` is borrowed. */
  onCell(cmd: number, body: Uint8Array, now: number): void {
    switch (cmd) {
      case CellCmd.Created:
        if (
          this.state === PathState.Creating &&
          this.#reached === 0 &&
          checkConfirm(this.#hopKeys[0]!, body)
        ) {
          this.#reached = 1;
          this.#advance(now);
        }
        return;
      case CellCmd.Extended: {
        if (this.state !== PathState.Extending) return;
        if (body[0] !== PathRefusal.Ok || body.length !== EXTENDED_OK_SIZE) {
          this.#finish(PathState.Failed, body[0] ?? PathRefusal.NextRefused, now, true);
          return;
        }
        if (!checkConfirm(this.#hopKeys[this.#reached]!, body.subarray(1))) return;
        this.#reached++;
        this.#advance(now);
        return;
      }
      case CellCmd.Handshake:
        if (this.#initiator !== null) this.#onStep(this.#initiator.receive(body.slice(), now), now);
        return;
      case CellCmd.Data: {
        const n = this.session.open(body, 0, body.length, now);
        if (n > 0)
          this.#handlers.onData?.(this, body.subarray(TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE + n), now);
        return;
      }
      case CellCmd.Keepalive:
        if (body[0] === 1) {
          const token = new DataView(body.buffer, body.byteOffset, body.length).getFloat64(1, true);
          if (token === this.#probeToken) this.lastRttMs = now - token;
        }
        return;
      case CellCmd.Destroy:
        this.entry = null;
        this.#finish(
          this.state === PathState.Ready ? PathState.Closed : PathState.Failed,
          body[0] ?? 0,
          now,
          false,
        );
        return;
    }
  }

  #advance(now: number): void {
    if (this.#reached < this.route.length) {
      this.state = PathState.Extending;
      const hop = this.route[this.#reached]!;
      const { skin, keys } = makeSkin(hop);
      this.#hopKeys.push(keys);
      const plain = new Uint8Array(hop.nodeId.length + skin.length);
      plain.set(hop.nodeId);
      plain.set(skin, hop.nodeId.length);
      const body = sealExtend(this.#hopKeys[this.#reached - 1]!, this.#extendSeq++, plain);
      this.#deps.sw.sendFromOrigin(this.entry!, CellCmd.Extend, body, now);
      return;
    }
    this.state = PathState.Handshaking;
    this.#startHandshake(now);
  }

  #startHandshake(now: number): void {
    const dest = this.route[this.route.length - 1]!;
    this.#initiator = this.#deps.e2e.initiate(dest.nodeId, now);
    for (const d of this.#initiator.first)
      this.#deps.sw.sendFromOrigin(this.entry!, CellCmd.Handshake, d, now);
  }

  #onStep(step: E2EStep, now: number): void {
    for (const d of step.send) this.#deps.sw.sendFromOrigin(this.entry!, CellCmd.Handshake, d, now);
    if (step.failed) {
      this.#initiator = null;
      if (this.state !== PathState.Ready) this.#finish(PathState.Failed, PathRefusal.Expired, now, true);
      return;
    }
    if (step.keys === null) return;
    this.#initiator = null;
    this.session.install(step.keys);
    this.#sendData(new Uint8Array(0), now); // confirms the keys to the responder
    if (this.state !== PathState.Ready) {
      this.state = PathState.Ready;
      this.readyAt = now;
      this.#handlers.onReady?.(this, now);
    }
  }

  #sendData(plaintext: Uint8Array, now: number): boolean {
    const buf = new Uint8Array(new ArrayBuffer(TRANSPORT_MIN_SIZE + plaintext.length));
    buf.set(plaintext, TRANSPORT_HEADER_SIZE);
    const n = this.session.seal(buf, 0, MsgType.Transport, plaintext.length, now);
    if (n < 0 || this.entry === null) return false;
    return this.#deps.sw.sendFromOrigin(this.entry, CellCmd.Data, buf, now);
  }

  #finish(state: PathState, reason: number, now: number, tellPath: boolean): void {
    if (tellPath && this.entry !== null) this.#deps.sw.destroy(this.entry, reason, now);
    this.entry = null;
    this.state = state;
    this.closeReason = reason;
    this.#initiator = null;
    this.session.clear();
    this.#handlers.onClosed?.(this, reason, now);
  }
}
