/**
 * The far end of a path: the end-to-end session a destination runs with a path's origin. Created
 * by PathService when an end-to-end handshake over the path completes; the origin is known only by
 * the identity its handshake proved (keys.peerNodeId), never by anything the relays carried.
 */
import type { AeadBackend } from "../aead/aead.ts";
import { MsgType } from "../message-type.ts";
import { Action, Session } from "../session.ts";
import type { SessionKeys } from "../session-keys.ts";
import { TRANSPORT_HEADER_SIZE, TRANSPORT_MIN_SIZE } from "../transport.ts";
import { CellCmd } from "./cell.ts";
import { MAX_PATH_PAYLOAD } from "./origin.ts";
import type { PathSwitch } from "./switch.ts";
import type { PathEntry } from "./table.ts";

export class TerminalPath {
  readonly session: Session;
  readonly entry: PathEntry;
  /** The origin's node id, as authenticated by the end-to-end handshake. */
  peerNodeId: Uint8Array;
  closed = false;
  readonly #sw: PathSwitch;

  constructor(sw: PathSwitch, backend: AeadBackend, entry: PathEntry, keys: SessionKeys) {
    this.#sw = sw;
    this.entry = entry;
    this.session = new Session(backend);
    this.session.install(keys);
    this.peerNodeId = keys.peerNodeId;
  }

  /** A rekey from the origin over the same path. */
  install(keys: SessionKeys): void {
    this.session.install(keys);
    this.peerNodeId = keys.peerNodeId;
  }

  /** Sends one packet back to the origin. False before the origin confirmed the keys or when too large. */
  send(plaintext: Uint8Array, now: number): boolean {
    if (this.closed || plaintext.length > MAX_PATH_PAYLOAD || !this.session.canSend(now)) return false;
    const buf = new Uint8Array(new ArrayBuffer(TRANSPORT_MIN_SIZE + plaintext.length));
    buf.set(plaintext, TRANSPORT_HEADER_SIZE);
    const n = this.session.seal(buf, 0, MsgType.Transport, plaintext.length, now);
    return n > 0 && this.#sw.sendFromTerminal(this.entry, CellCmd.Data, buf, now);
  }

  /** Opens a DATA body in place; returns the plaintext view (borrowed) or null. */
  open(body: Uint8Array, now: number): Uint8Array | null {
    const n = this.session.open(body, 0, body.length, now);
    if (n < 0) return null;
    return body.subarray(TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE + n);
  }

  /** End-to-end keepalives (passive); the origin drives rekeys. */
  tick(now: number): void {
    if (this.closed) return;
    if (this.session.poll(now) & Action.Keepalive) this.send(new Uint8Array(0), now);
  }

  close(): void {
    this.closed = true;
    this.session.clear();
  }
}
