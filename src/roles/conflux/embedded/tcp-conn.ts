/**
 * One userspace TCP connection (RFC 9293 state machine, client and server side) over raw IPv4
 * packets: handshake with MSS / window scale / SACK-permitted, data both ways with flow control
 * (tcp-receiver.ts) and loss recovery plus CUBIC (tcp-sender.ts), delayed ACKs, keepalive, FIN
 * in both directions (half close), RST, TIME_WAIT. Not here: urgent data, timestamps/PAWS, ECN,
 * simultaneous open, IPv6 (see docs/embedded.md).
 */
import { StreamError } from "./errors.ts";
import { Accept, TcpReceiver } from "./tcp-receiver.ts";
import { MAX_RTO_MS, type SegRecord, TcpSender } from "./tcp-sender.ts";
import { ACK, FIN, PSH, RST, type Segment, SYN, synOptions, writeSackOption } from "./tcp-wire.ts";

/* Specification constants */
/** RFC 9293: MSS assumed when the peer sends no MSS option. */
const DEFAULT_PEER_MSS = 536;
/* Implementation constants */
export const DELAYED_ACK_MS = 20;
/** TIME_WAIT (2·MSL); short because ports are chosen at random among 16,384 and nothing routes old duplicates here. */
export const TIME_WAIT_MS = 2_000;
export const SYN_RETRIES = 6;
export const DATA_RETRIES = 12;
export const KEEPALIVE_IDLE_MS = 30_000;
export const KEEPALIVE_INTERVAL_MS = 5_000;
export const KEEPALIVE_PROBES = 6;

export type TcpState =
  | "SYN_SENT"
  | "SYN_RCVD"
  | "ESTABLISHED"
  | "FIN_WAIT_1"
  | "FIN_WAIT_2"
  | "CLOSE_WAIT"
  | "CLOSING"
  | "LAST_ACK"
  | "TIME_WAIT"
  | "CLOSED";

export interface Transmit {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  options: Uint8Array | null;
  optLen: number;
  /** Data index (ring offset) and length of the payload, 0 for none. */
  dataIndex: number;
  dataLen: number;
}

/** What the stack offers a connection. */
export interface ConnHost {
  transmit(conn: TcpConnection, t: Transmit): boolean;
  release(conn: TcpConnection): void;
}

export interface ConnOptions {
  readonly mss: number;
  readonly recvBuffer: number;
  readonly sendBuffer: number;
}

export class TcpConnection {
  state: TcpState;
  readonly sender: TcpSender;
  readonly receiver: TcpReceiver;
  #rcvWscale: number;
  #sndWscale = 0;
  #peerWscaleOk = false;
  #delackAt = 0;
  #ackPending = 0;
  #lastRxAt: number;
  #probes = 0;
  #nextProbeAt = 0;
  #timeWaitAt = 0;
  #lastAdvWindow = 0;
  readonly #tx: Transmit = {
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    options: null,
    optLen: 0,
    dataIndex: 0,
    dataLen: 0,
  };
  readonly #sackOpt = new Uint8Array(4 + 8 * 4);
  readonly #sackWire = new Uint32Array(8);
  readonly #sackOff = new Float64Array(8);
  error: StreamError | null = null;
  onConnect: (() => void) | null = null;
  onEnd: (() => void) | null = null;
  onClose: ((err: StreamError | null) => void) | null = null;
  onDrain: (() => void) | null = null;
  #closed = false;
  #endedNotified = false;
  #needDrain = false;

  constructor(
    readonly host: ConnHost,
    readonly localPort: number,
    readonly remoteIp: number,
    readonly remotePort: number,
    readonly o: ConnOptions,
    initial: "SYN_SENT" | "SYN_RCVD",
    now: number,
  ) {
    this.state = initial;
    this.sender = new TcpSender(o.mss, o.sendBuffer);
    this.sender.iss = crypto.getRandomValues(new Uint32Array(1))[0]!;
    this.receiver = new TcpReceiver(o.recvBuffer);
    this.receiver.paused = true; // until the application attaches a consumer and resumes
    let ws = 0;
    while (ws < 14 && o.recvBuffer >> ws > 0xffff) ws++;
    this.#rcvWscale = ws;
    this.#lastRxAt = now;
  }

  /* ---------------------------------------------------------------- application side */

  /** Queues data; false = buffer full, wait for `onDrain`. Throws when the stream cannot send. */
  write(data: Uint8Array): boolean {
    if (this.sender.finQueued || this.#closed)
      throw new StreamError("STREAM_CLOSED", "stream is closed for writing");
    const ok = this.sender.write(data);
    if (!ok) this.#needDrain = true;
    if (this.#synchronized()) this.#output(performance.now());
    return ok;
  }

  /** Sends FIN after everything written (half close); reading continues. */
  end(): void {
    if (this.sender.finQueued || this.#closed) return;
    this.sender.finQueued = true;
    if (this.state === "ESTABLISHED") this.state = "FIN_WAIT_1";
    else if (this.state === "CLOSE_WAIT") this.state = "LAST_ACK";
    if (this.#synchronized()) this.#output(performance.now());
  }

  /** Aborts with RST; buffered data in both directions is discarded. */
  destroy(reason = "destroyed"): void {
    if (this.#closed) return;
    if (this.state !== "SYN_SENT" && this.state !== "TIME_WAIT") {
      this.#sendFlags(RST | ACK, this.sender.nxt);
    }
    this.#finish(new StreamError("STREAM_ABORTED", reason));
  }

  pause(): void {
    this.receiver.paused = true;
  }

  resume(): void {
    this.receiver.paused = false;
    if (this.receiver.flush() > 0 || this.receiver.queued === 0) this.#maybeWindowUpdate();
    this.#notifyEnd();
  }

  setDataHandler(h: ((chunk: Uint8Array) => void) | null): void {
    this.receiver.handler = h;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes accepted by `write` but not yet acknowledged. */
  get buffered(): number {
    return this.sender.ring.held + this.sender.pendingBytes;
  }

  /* ---------------------------------------------------------------- opening */

  /** Client side: sends the SYN. */
  open(now: number): void {
    const rec = this.sender.synRecord(now);
    this.sender.rtoAt = now + this.sender.rto;
    this.#emit(rec, false);
  }

  /** Server side: a SYN arrived for a listener; answers SYN-ACK. */
  acceptSyn(seg: Segment, now: number): void {
    this.receiver.irs = seg.seq;
    this.receiver.nxt = 1;
    this.#negotiate(seg);
    const rec = this.sender.synRecord(now);
    this.sender.rtoAt = now + this.sender.rto;
    this.#emit(rec, false);
  }

  #negotiate(seg: Segment): void {
    const peerMss = seg.mss > 0 ? seg.mss : DEFAULT_PEER_MSS;
    this.sender.setMss(Math.max(64, Math.min(this.o.mss, peerMss)));
    this.#peerWscaleOk = seg.wscale >= 0;
    if (this.#peerWscaleOk) this.#sndWscale = seg.wscale;
    else this.#rcvWscale = 0;
    this.sender.sackOk = seg.sackPermitted;
    this.sender.wnd = seg.window; // windows in SYNs are never scaled
  }

  /* ---------------------------------------------------------------- input */

  input(seg: Segment, now: number): void {
    if (this.#closed) return;
    this.#lastRxAt = now;
    this.#probes = 0;
    const f = seg.flags;
    if (this.state === "SYN_SENT") {
      this.#inputSynSent(seg, now);
      return;
    }
    const rcv = this.receiver;
    const off = rcv.offsetOf(seg.seq);
    const segLen = seg.data.length + (f & FIN ? 1 : 0);
    const inWindow = off + segLen >= rcv.nxt && off <= rcv.nxt + Math.max(rcv.window(), 1);
    if (f & RST) {
      // RFC 5961: only an exact RST resets; one elsewhere in the window gets a challenge ACK.
      if (off === rcv.nxt) this.#finish(new StreamError("STREAM_RESET", "connection reset by peer"));
      else if (inWindow) this.#sendAck();
      return;
    }
    if (f & SYN) {
      if (this.state === "SYN_RCVD" && seg.seq === rcv.irs) this.#emit(this.sender.records[0]!, true);
      else this.#sendAck();
      return;
    }
    if (!inWindow) {
      this.#sendAck();
      return;
    }
    if (!(f & ACK)) return;
    const snd = this.sender;
    const ackOff = snd.offsetOf(seg.ack);
    if (this.state === "SYN_RCVD") {
      if (ackOff < 1 || ackOff > snd.nxt) {
        this.#sendFlags(RST, ackOff);
        return;
      }
      this.state = "ESTABLISHED";
      this.onConnect?.();
    }
    const sackCount = this.#sackOffsets(seg);
    const wnd = seg.window << this.#sndWscale;
    if (snd.onAck(ackOff, wnd, this.#sackOff, sackCount, now) < 0) {
      this.#sendAck();
      return;
    }
    this.#afterAck();
    if (this.#closed) return;
    if (seg.data.length > 0 || f & FIN) this.#receive(off, seg, now);
    this.#output(now);
  }

  #inputSynSent(seg: Segment, now: number): void {
    const f = seg.flags;
    const snd = this.sender;
    if (f & ACK && seg.ack !== snd.wire(1)) {
      if (!(f & RST)) this.#sendRaw(RST, seg.ack, 0);
      return;
    }
    if (f & RST) {
      if (f & ACK) this.#finish(new StreamError("STREAM_REFUSED", "connection refused"));
      return;
    }
    if (!(f & SYN) || !(f & ACK)) return; // simultaneous open is not supported
    this.receiver.irs = seg.seq;
    this.receiver.nxt = 1;
    this.#negotiate(seg);
    snd.onAck(1, seg.window, this.#sackOff, 0, now);
    snd.wnd = seg.window; // not scaled in a SYN
    this.state = snd.finQueued ? "FIN_WAIT_1" : "ESTABLISHED";
    this.#sendAck();
    this.onConnect?.();
    this.#output(now);
  }

  #sackOffsets(seg: Segment): number {
    const n = this.sender.sackOk ? seg.sackCount : 0;
    for (let k = 0; k < 2 * n; k++) this.#sackOff[k] = this.sender.offsetOf(seg.sack[k]!);
    return n;
  }

  #afterAck(): void {
    const snd = this.sender;
    const finAcked = snd.finSent && snd.una > snd.finOff;
    if (finAcked) {
      if (this.state === "FIN_WAIT_1") this.state = "FIN_WAIT_2";
      else if (this.state === "CLOSING") this.#enterTimeWait();
      else if (this.state === "LAST_ACK") {
        this.#finish(null);
        return;
      }
    }
    if (this.#needDrain && snd.writable >= snd.ring.capacity / 2) {
      this.#needDrain = false;
      this.onDrain?.();
    }
  }

  #receive(off: number, seg: Segment, now: number): void {
    if (this.state !== "ESTABLISHED" && this.state !== "FIN_WAIT_1" && this.state !== "FIN_WAIT_2") {
      this.#sendAck(); // data after the peer's FIN: just acknowledge
      return;
    }
    const r = this.receiver.accept(off, seg.data, (seg.flags & FIN) !== 0);
    if (r & Accept.Fin) {
      if (this.state === "ESTABLISHED") this.state = "CLOSE_WAIT";
      else if (this.state === "FIN_WAIT_1") this.state = "CLOSING";
      else if (this.state === "FIN_WAIT_2") this.#enterTimeWait();
      this.#sendAck();
      this.#notifyEnd();
      return;
    }
    if (r & (Accept.OutOfOrder | Accept.Duplicate | Accept.HoleFilled)) {
      this.#sendAck();
      return;
    }
    if (r & Accept.InOrder) {
      this.#ackPending++;
      if (this.#ackPending >= 2) this.#sendAck();
      else if (this.#delackAt === 0) this.#delackAt = now + DELAYED_ACK_MS;
    }
  }

  #notifyEnd(): void {
    if (this.#endedNotified || !this.receiver.finReceived || this.receiver.queued > 0) return;
    this.#endedNotified = true;
    this.onEnd?.();
  }

  /* ---------------------------------------------------------------- output */

  #synchronized(): boolean {
    return this.state !== "SYN_SENT" && this.state !== "SYN_RCVD" && !this.#closed;
  }

  #output(now: number): void {
    if (!this.#synchronized() || this.state === "TIME_WAIT") return;
    this.sender.output(now, this.#emitFn, true);
  }

  readonly #emitFn = (rec: SegRecord, retransmit: boolean) => this.#emit(rec, retransmit);

  #emit(rec: SegRecord, _retransmit: boolean): boolean {
    const t = this.#tx;
    const snd = this.sender;
    t.seq = snd.wire(rec.start);
    t.options = null;
    t.optLen = 0;
    if (rec.syn) {
      t.flags = SYN | (this.state === "SYN_RCVD" ? ACK : 0);
      const ws = this.state === "SYN_SENT" || this.#peerWscaleOk ? this.#rcvWscale : -1;
      const sack = this.state === "SYN_SENT" || snd.sackOk;
      t.options = synOptions(this.o.mss, ws, sack);
      t.optLen = t.options.length;
      t.dataLen = 0;
      t.ack = this.state === "SYN_RCVD" ? this.receiver.wire(this.receiver.nxt) : 0;
      t.window = Math.min(this.receiver.window(), 0xffff);
      return this.host.transmit(this, t);
    }
    const dataEnd = rec.fin ? rec.end - 1 : rec.end;
    t.dataIndex = rec.start - 1;
    t.dataLen = dataEnd - rec.start;
    t.flags = ACK | (rec.fin ? FIN : 0) | (dataEnd === snd.dataEnd && t.dataLen > 0 ? PSH : 0);
    this.#fillAck(t);
    return this.host.transmit(this, t);
  }

  #fillAck(t: Transmit): void {
    const rcv = this.receiver;
    t.ack = rcv.wire(rcv.nxt);
    const win = rcv.window();
    t.window = Math.min(win >> this.#rcvWscale, 0xffff);
    this.#lastAdvWindow = t.window << this.#rcvWscale;
    this.#ackPending = 0;
    this.#delackAt = 0;
  }

  #sendAck(): void {
    if (this.state === "SYN_SENT" || this.#closed) return;
    const t = this.#tx;
    t.seq = this.sender.wire(this.sender.nxt);
    t.flags = ACK;
    t.dataLen = 0;
    t.options = null;
    t.optLen = 0;
    if (this.sender.sackOk) {
      const n = this.receiver.sackBlocks(this.#sackWire);
      if (n > 0) {
        t.optLen = writeSackOption(this.#sackOpt, this.#sackWire, n);
        t.options = this.#sackOpt;
      }
    }
    this.#fillAck(t);
    this.host.transmit(this, t);
  }

  #sendFlags(flags: number, seqOff: number): void {
    const t = this.#tx;
    t.seq = this.sender.wire(seqOff);
    t.flags = flags;
    t.dataLen = 0;
    t.options = null;
    t.optLen = 0;
    this.#fillAck(t);
    this.host.transmit(this, t);
  }

  #sendRaw(flags: number, seq: number, ack: number): void {
    const t = this.#tx;
    t.seq = seq;
    t.ack = ack;
    t.flags = flags;
    t.window = 0;
    t.dataLen = 0;
    t.options = null;
    t.optLen = 0;
    this.host.transmit(this, t);
  }

  #maybeWindowUpdate(): void {
    if (!this.#synchronized()) return;
    const win = this.receiver.window();
    const mss = this.sender.mss;
    if (
      win - this.#lastAdvWindow >= Math.max(2 * mss, this.receiver.capacity / 4) ||
      (this.#lastAdvWindow < mss && win >= mss)
    ) {
      this.#sendAck();
    }
  }

  /* ---------------------------------------------------------------- timers */

  /** Called by the stack about every 10 ms. */
  tick(now: number): void {
    if (this.#closed) return;
    if (this.state === "TIME_WAIT") {
      if (now >= this.#timeWaitAt) this.#finish(null);
      return;
    }
    const snd = this.sender;
    if (this.#delackAt !== 0 && now >= this.#delackAt) this.#sendAck();
    if (snd.probeAt !== 0 && now >= snd.probeAt && this.#synchronized()) snd.probe(now, this.#emitFn);
    if (snd.rtoAt !== 0 && now >= snd.rtoAt) {
      if (snd.outstanding === 0) snd.rtoAt = 0;
      else this.#onRto(now);
    }
    if (this.#synchronized() && now - this.#lastRxAt > KEEPALIVE_IDLE_MS && now >= this.#nextProbeAt) {
      if (this.#probes >= KEEPALIVE_PROBES) {
        this.#finish(new StreamError("STREAM_TIMEOUT", "peer stopped answering keepalives"));
        return;
      }
      this.#probes++;
      this.#nextProbeAt = now + KEEPALIVE_INTERVAL_MS;
      this.#sendFlags(ACK, snd.nxt - 1); // an old sequence number: the peer answers with an ACK
    }
  }

  #onRto(now: number): void {
    const snd = this.sender;
    const handshake = this.state === "SYN_SENT" || this.state === "SYN_RCVD";
    const zeroWindowProbe = snd.wnd === 0 && this.#synchronized();
    if (!zeroWindowProbe && snd.backoff >= (handshake ? SYN_RETRIES : DATA_RETRIES)) {
      this.#finish(
        new StreamError("STREAM_TIMEOUT", handshake ? "connection timed out" : "retransmissions timed out"),
      );
      return;
    }
    if (handshake) {
      snd.backoff++;
      snd.rto = Math.min(snd.rto * 2, MAX_RTO_MS);
      snd.rtoAt = now + snd.rto;
      const rec = snd.records[0];
      if (rec?.syn) {
        rec.xmits++;
        rec.sentAt = now;
        this.#emit(rec, true);
      }
      return;
    }
    snd.onRto(now);
    if (zeroWindowProbe) snd.backoff = Math.min(snd.backoff, 6);
    this.#output(now);
  }

  #enterTimeWait(): void {
    this.state = "TIME_WAIT";
    this.#timeWaitAt = performance.now() + TIME_WAIT_MS;
    this.sender.rtoAt = 0;
    this.#notifyClosed(null);
  }

  #finish(err: StreamError | null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.state = "CLOSED";
    this.sender.rtoAt = 0;
    this.receiver.clear();
    this.host.release(this);
    this.#notifyClosed(err);
  }

  #closeNotified = false;
  #notifyClosed(err: StreamError | null): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    this.error = err;
    this.onClose?.(err);
  }
}
