/**
 * Test fixture (not a test file): in-process Anchor nodes joined by authenticated link sessions,
 * each with a PathService. Link and end-to-end sessions use the real handshake; the wire is either
 * an in-memory queue or real UDP sockets on 127.0.0.1 (`UdpWire`).
 */
import { chooseAead } from "../aead/choose.ts";
import type { Certificate } from "../certificate.ts";
import { issue, local, NOW_MS } from "../handshake.fixture.ts";
import { HandshakeInitiator, HandshakeResponder } from "../handshake.ts";
import type { HandshakeOutput } from "../handshake-types.ts";
import { Identity } from "../identity.ts";
import { MsgType } from "../message-type.ts";
import { seededRng } from "../rng.ts";
import { Action, Session } from "../session.ts";
import type { SessionKeys } from "../session-keys.ts";
import { readReceiver, TRANSPORT_HEADER_SIZE, TRANSPORT_MIN_SIZE } from "../transport.ts";
import { AnchorEndToEnd } from "./end-to-end.ts";
import type { HopInfo } from "./hop-key.ts";
import { PathService } from "./service.ts";
import type { PathLinks } from "./switch.ts";
import { NO_LINK } from "./table.ts";
import type { TerminalPath } from "./terminal.ts";

export const T0 = NOW_MS;
const backend = chooseAead();

export interface Link {
  readonly id: number;
  readonly peer: MeshNode;
  readonly session: Session;
}

/** Carries datagrams between nodes. */
export interface Wire {
  transmit(from: MeshNode, to: MeshNode, bytes: Uint8Array): void;
}

export class MeshNode implements PathLinks {
  readonly identity: Identity;
  readonly cert: Certificate;
  readonly links = new Map<number, Link>();
  readonly service: PathService;
  /** Every cell this node's switch received (after link decryption). */
  readonly taps: Uint8Array[] = [];
  /** Packets that arrived over paths ending here. */
  readonly delivered: { from: Uint8Array; data: Uint8Array; path: TerminalPath }[] = [];
  /** IP packets that arrived directly over a link session (MsgType.Transport). */
  readonly direct: Uint8Array[] = [];
  readonly linkDrops: number[] = [];
  wire: Wire | null = null;

  constructor(
    readonly name: string,
    directory: Map<string, Certificate>,
  ) {
    this.identity = Identity.generate(seededRng(`mesh ${name}`));
    this.cert = issue(this.identity, { ipv4: "100.64.1.1" });
    directory.set(hex(this.identity.nodeId), this.cert);
    const e2e = new AnchorEndToEnd(
      local(this.identity, this.cert),
      (id) => directory.get(hex(id)) ?? null,
      T0,
    );
    this.service = new PathService({
      identity: this.identity,
      links: this,
      backend,
      e2e,
      sendDirect: (link, plaintext, now) => this.sendDirect(link, plaintext, now),
      onTerminalData: (path, data) =>
        this.delivered.push({ from: path.peerNodeId, data: data.slice(), path }),
      tap: (_link, cell) => this.taps.push(cell),
    });
  }

  get nodeId(): Uint8Array {
    return this.identity.nodeId;
  }

  hop(): HopInfo {
    return {
      nodeId: this.identity.nodeId,
      x25519: this.identity.publicKeys.x25519,
      mlkem768: this.identity.publicKeys.mlkem768,
    };
  }

  /* PathLinks */
  sendCell(link: number, buf: Uint8Array, cellPos: number, cellLen: number, now: number): boolean {
    const l = this.links.get(link);
    if (!l || !this.wire) return false;
    const start = cellPos - TRANSPORT_HEADER_SIZE;
    const n = l.session.seal(buf, start, MsgType.PathCell, cellLen, now);
    if (n < 0) return false;
    this.wire.transmit(this, l.peer, buf.subarray(start, start + n));
    return true;
  }
  peerOf(link: number): Uint8Array | null {
    return this.links.get(link)?.peer.nodeId ?? null;
  }
  linkTo(nodeId: Uint8Array): number {
    for (const l of this.links.values()) if (Buffer.compare(l.peer.nodeId, nodeId) === 0) return l.id;
    return NO_LINK;
  }
  localIsLow(link: number): boolean {
    const l = this.links.get(link);
    return l !== undefined && Buffer.compare(this.nodeId, l.peer.nodeId) < 0;
  }

  sendDirect(link: number, plaintext: Uint8Array, now: number): boolean {
    const l = this.links.get(link);
    if (!l || !this.wire) return false;
    const buf = new Uint8Array(new ArrayBuffer(TRANSPORT_MIN_SIZE + plaintext.length));
    buf.set(plaintext, TRANSPORT_HEADER_SIZE);
    const n = l.session.seal(buf, 0, MsgType.Transport, plaintext.length, now);
    if (n < 0) return false;
    this.wire.transmit(this, l.peer, buf.subarray(0, n));
    return true;
  }

  /** A datagram from the wire. `bytes` is copied (it may be a borrowed socket buffer). */
  receive(bytes: Uint8Array, now: number): void {
    if (bytes.length < TRANSPORT_MIN_SIZE) return;
    const buf = new Uint8Array(new ArrayBuffer(bytes.length));
    buf.set(bytes);
    const receiver = readReceiver(buf, 0);
    for (const l of this.links.values()) {
      if (!l.session.localIndexes().includes(receiver)) continue;
      const n = l.session.open(buf, 0, buf.length, now);
      if (n < 0) {
        this.linkDrops.push(-n);
        return;
      }
      if (buf[0] === MsgType.PathCell) this.service.onCell(l.id, buf, TRANSPORT_HEADER_SIZE, n, now);
      else if (n > 0) this.direct.push(buf.slice(TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE + n));
      return;
    }
  }
}

let nextLinkId = 1;

/** Runs the real Anchor handshake between two nodes in memory and installs link sessions on both. */
export function connect(a: MeshNode, b: MeshNode, now = T0): void {
  const la: Link = { id: nextLinkId++, peer: b, session: new Session(backend) };
  const lb: Link = { id: nextLinkId++, peer: a, session: new Session(backend) };
  a.links.set(la.id, la);
  b.links.set(lb.id, lb);
  rekeyLink(a, b, now);
}

/** A fresh link handshake a → b (initial or rekey); the new keys replace the old seamlessly. */
export function rekeyLink(a: MeshNode, b: MeshNode, now: number): void {
  const la = a.links.get(a.linkTo(b.nodeId))!;
  const lb = b.links.get(b.linkTo(a.nodeId))!;
  const initiator = new HandshakeInitiator(local(a.identity, a.cert), b.cert, now);
  const responder = new HandshakeResponder(local(b.identity, b.cert), now);
  let out: HandshakeOutput = initiator.start(now);
  let bKeys: SessionKeys | null = null;
  for (const d of datagrams(out)) {
    const r = responder.receive(d, a.name, now);
    if (r.kind === "established") {
      bKeys = r.keys;
      for (const x of r.datagrams) out = initiator.receive(x, now);
    }
  }
  if (bKeys === null || out.kind !== "established") throw new Error("link handshake failed");
  lb.session.install(bKeys);
  la.session.install(out.keys);
  // the initiator confirms the keys so the responder may send
  const k = new Uint8Array(new ArrayBuffer(TRANSPORT_MIN_SIZE));
  const n = la.session.seal(k, 0, MsgType.Transport, 0, now);
  if (lb.session.open(k, 0, n, now) !== 0) throw new Error("link confirmation failed");
}

/** Link-session timers for every node: rekeys (real handshakes) when a session asks for one. */
export function maintainLinks(nodes: MeshNode[], now: number): number {
  let n = 0;
  for (const a of nodes) {
    for (const l of a.links.values()) {
      if (l.session.poll(now) & Action.Rekey) {
        rekeyLink(a, l.peer, now);
        n++;
      }
    }
  }
  return n;
}

function datagrams(o: HandshakeOutput): Uint8Array[] {
  return o.kind === "send" || o.kind === "established" ? o.datagrams : [];
}

/** In-memory wire: a FIFO pumped by `flush`, so forwarding never recurses. */
export class MemoryWire implements Wire {
  readonly queue: { to: MeshNode; bytes: Uint8Array }[] = [];
  /** Every datagram that crossed the wire, by sender. */
  readonly log: { from: MeshNode; to: MeshNode; bytes: Uint8Array }[] = [];
  transmit(from: MeshNode, to: MeshNode, bytes: Uint8Array): void {
    const copy = bytes.slice();
    this.queue.push({ to, bytes: copy });
    this.log.push({ from, to, bytes: copy });
  }
  flush(now: number, limit = 100_000): number {
    let n = 0;
    while (this.queue.length > 0 && n < limit) {
      const m = this.queue.shift()!;
      m.to.receive(m.bytes, now);
      n++;
    }
    return n;
  }
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** A new directory and `count` nodes named n0…n(count-1), each wired to `wire`. */
export function makeNodes(
  names: string[],
  wire: Wire,
): { nodes: MeshNode[]; directory: Map<string, Certificate> } {
  const directory = new Map<string, Certificate>();
  const nodes = names.map((n) => new MeshNode(n, directory));
  for (const n of nodes) n.wire = wire;
  return { nodes, directory };
}
