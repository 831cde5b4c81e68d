/**
 * The send half of a userspace TCP connection: the send buffer, one record per transmitted
 * segment, SACK scoreboard, loss detection, retransmission timer and congestion control.
 * Offsets are relative to our initial sequence number (our SYN is 0, data byte k is k+1).
 *
 * Loss detection marks a segment lost when it is not SACKed and either three segments' worth of
 * data above it were SACKed (RFC 6675's DupThresh, original transmissions) or a segment sent
 * later was delivered (RACK, RFC 8985, with a reordering window of srtt/4) — the latter also finds
 * lost retransmissions without a timeout. Without SACK, three duplicate ACKs mark the first
 * unacknowledged segment lost. A loss episode reduces cwnd once (until the recovery point is
 * acknowledged); `inflight` counts bytes neither acknowledged, SACKed nor marked lost.
 */
import { ByteRing } from "./byte-ring.ts";
import { Cubic } from "./tcp-cc.ts";

/* Specification constants (RFC 6298) */
export const MIN_RTO_MS = 200;
export const MAX_RTO_MS = 60_000;
export const INITIAL_RTO_MS = 1_000;
const DUP_THRESH = 3;
/* RFC 9406 */
const HYSTART_MIN_SAMPLES = 8;
const HYSTART_MIN_ETA_MS = 4;
const HYSTART_MAX_ETA_MS = 16;
/** Floor of the tail-loss-probe timeout (2·srtt), above the peer's delayed-ACK timer. */
const TLP_MIN_MS = 25;

export interface SegRecord {
  start: number;
  end: number;
  sentAt: number;
  xmits: number;
  sacked: boolean;
  lost: boolean;
  syn: boolean;
  fin: boolean;
}

/** What the connection must do to put a segment on the wire. */
export type Emit = (rec: SegRecord, retransmit: boolean) => boolean;

export class TcpSender {
  iss = 0;
  una = 0;
  nxt = 0;
  /** Peer's window in bytes (already scaled) and its right edge. */
  wnd = 0;
  mss: number;
  sackOk = false;
  readonly ring: ByteRing;
  /** Writes beyond the ring's capacity, moved in as acknowledgements free room. */
  readonly #pending: Uint8Array[] = [];
  pendingBytes = 0;
  finQueued = false;
  finSent = false;
  readonly records: SegRecord[] = [];
  #head = 0;
  inflight = 0;
  #lostCount = 0;
  cc: Cubic;
  inRecovery = false;
  recoveryPoint = 0;
  /** Highest SACKed offset, and the latest send time of a delivered segment. */
  #fack = 0;
  #rackXmit = -1;
  #dupAcks = 0;
  srtt = -1;
  rttvar = 0;
  rto = INITIAL_RTO_MS;
  backoff = 0;
  rtoAt = 0;
  readonly stats = { retransmits: 0, rtos: 0, lossEpisodes: 0, slowStartExits: 0, tailProbes: 0 };
  /** Tail loss probe (RFC 8985 §7): one probe per quiet flight, well before the RTO. */
  probeAt = 0;
  #probed = false;
  /* HyStart++ (RFC 9406) round tracking: leave slow start when the RTT rises, before queues overflow. */
  #roundEnd = 0;
  #roundMin = Number.POSITIVE_INFINITY;
  #lastRoundMin = Number.POSITIVE_INFINITY;
  #roundSamples = 0;

  constructor(mss: number, bufferBytes: number) {
    this.mss = mss;
    this.cc = new Cubic(mss);
    this.ring = new ByteRing(bufferBytes);
  }

  setMss(mss: number): void {
    this.mss = mss;
    this.cc = new Cubic(mss);
  }

  wire(off: number): number {
    return (this.iss + off) >>> 0;
  }

  offsetOf(seq: number): number {
    return this.una + ((seq - ((this.iss + this.una) >>> 0)) | 0);
  }

  /** Offset one past the last data byte written so far. */
  get dataEnd(): number {
    return 1 + this.ring.end;
  }

  get finOff(): number {
    return this.dataEnd + this.pendingBytes;
  }

  get outstanding(): number {
    return this.records.length - this.#head;
  }

  /** Queues `data`; returns false once more is buffered than the ring holds (the writer should wait). */
  write(data: Uint8Array): boolean {
    if (this.pendingBytes === 0) {
      const n = this.ring.append(data);
      if (n === data.length) return true;
      data = data.subarray(n);
    }
    this.#pending.push(data.slice());
    this.pendingBytes += data.length;
    return false;
  }

  /** Moves pending writes into the ring; returns true when nothing is pending any more. */
  #refill(): boolean {
    while (this.#pending.length > 0) {
      const d = this.#pending[0]!;
      const n = this.ring.append(d);
      this.pendingBytes -= n;
      if (n < d.length) {
        this.#pending[0] = d.subarray(n);
        return false;
      }
      this.#pending.shift();
    }
    return true;
  }

  /** The connection's SYN (offset 0). */
  synRecord(now: number): SegRecord {
    const rec = newRecord(0, 1, now);
    rec.syn = true;
    this.#push(rec);
    this.nxt = 1;
    this.inflight = 1;
    return rec;
  }

  /**
   * Processes an acknowledgement (offset), the peer's scaled window and SACK blocks (offsets,
   * pairs). Returns the newly acknowledged byte count, or -1 when `ack` is for data never sent.
   */
  onAck(ack: number, wnd: number, sack: Float64Array, sackCount: number, now: number): number {
    if (ack > this.nxt) return -1;
    if (ack < this.una) return 0;
    const advanced = ack - this.una;
    const wndChanged = wnd !== this.wnd;
    this.wnd = wnd;
    if (advanced > 0) {
      let sample = -1;
      while (this.#head < this.records.length) {
        const r = this.records[this.#head]!;
        if (r.end > ack) {
          if (r.start < ack) {
            if (!r.sacked && !r.lost) this.inflight -= ack - r.start;
            r.start = ack;
          }
          break;
        }
        if (!r.sacked && !r.lost) this.inflight -= r.end - r.start;
        if (r.lost) this.#lostCount--;
        if (r.xmits === 1) sample = now - r.sentAt;
        if (r.sentAt > this.#rackXmit) this.#rackXmit = r.sentAt;
        this.records[this.#head++] = undefined as unknown as SegRecord;
      }
      if (this.#head > 1024 && this.#head * 2 > this.records.length) {
        this.records.splice(0, this.#head);
        this.#head = 0;
      }
      if (sample >= 0) this.#rttSample(sample);
      this.una = ack;
      this.#hystartRound();
      this.ring.release(Math.min(ack - 1, this.ring.end));
      this.#refill();
      this.backoff = 0;
      this.#dupAcks = 0;
      if (this.inRecovery && ack >= this.recoveryPoint) this.inRecovery = false;
      if (!this.inRecovery) this.cc.onAck(advanced, now, Math.max(this.srtt, 0));
      this.rtoAt = this.outstanding > 0 ? now + this.rto : 0;
      this.#probed = false;
    } else if (!wndChanged && this.outstanding > 0 && sackCount === 0) {
      this.#dupAcks++;
      if (!this.sackOk && this.#dupAcks === DUP_THRESH) this.#markLost(this.records[this.#head]!);
    }
    if (this.#fack < this.una) this.#fack = this.una;
    for (let k = 0; k < sackCount; k++) this.#applySack(sack[2 * k]!, sack[2 * k + 1]!);
    this.#detectLosses();
    this.#armProbe(now);
    return advanced;
  }

  #applySack(left: number, right: number): void {
    if (right <= this.una || right > this.nxt || left >= right) return;
    const recs = this.records;
    // Records are sorted by start: binary search the first record ending after `left`.
    let lo = this.#head;
    let hi = recs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (recs[mid]!.end <= left) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < recs.length; i++) {
      const r = recs[i]!;
      if (r.start >= right) break;
      if (r.sacked || r.start < left || r.end > right) continue;
      r.sacked = true;
      if (r.lost) {
        r.lost = false;
        this.#lostCount--;
      } else this.inflight -= r.end - r.start;
      if (r.sentAt > this.#rackXmit) this.#rackXmit = r.sentAt;
      if (r.end > this.#fack) this.#fack = r.end;
    }
  }

  #detectLosses(): void {
    const recs = this.records;
    const reo = this.srtt > 0 ? this.srtt / 4 : 1;
    const fackLimit = this.#fack - DUP_THRESH * this.mss;
    for (let i = this.#head; i < recs.length; i++) {
      const r = recs[i]!;
      if (r.start >= this.#fack && r.sentAt >= this.#rackXmit) break;
      if (r.sacked || r.lost) continue;
      if ((r.xmits === 1 && r.end <= fackLimit) || r.sentAt + reo < this.#rackXmit) this.#markLost(r);
    }
  }

  #markLost(r: SegRecord): void {
    if (r.lost || r.sacked) return;
    r.lost = true;
    this.#lostCount++;
    this.inflight -= r.end - r.start;
    if (!this.inRecovery) {
      this.inRecovery = true;
      this.recoveryPoint = this.nxt;
      this.cc.onLoss();
      this.stats.lossEpisodes++;
    }
  }

  /** Retransmission timeout: everything not SACKed is lost, cwnd restarts from one segment. */
  onRto(now: number): void {
    this.stats.rtos++;
    this.cc.onRto(this.inflight, this.backoff === 0);
    this.backoff++;
    for (let i = this.#head; i < this.records.length; i++) {
      const r = this.records[i]!;
      if (r.sacked || r.lost) continue;
      r.lost = true;
      this.#lostCount++;
      this.inflight -= r.end - r.start;
    }
    this.inRecovery = true;
    this.recoveryPoint = this.nxt;
    this.rto = Math.min(this.rto * 2, MAX_RTO_MS);
    this.rtoAt = now + this.rto;
  }

  /**
   * Sends what the windows allow: lost segments first, then new data, then a FIN once every byte
   * is out. `emit` builds and sends the packet; it returns false when the packet was refused.
   */
  output(now: number, emit: Emit, nagleOff: boolean): number {
    let sent = 0;
    const cwnd = this.cc.cwnd;
    if (this.#lostCount > 0) {
      for (let i = this.#head; i < this.records.length && this.#lostCount > 0; i++) {
        const r = this.records[i]!;
        if (!r.lost) continue;
        if (this.inflight > 0 && this.inflight + (r.end - r.start) > cwnd) return sent;
        r.lost = false;
        this.#lostCount--;
        r.xmits++;
        r.sentAt = now;
        this.inflight += r.end - r.start;
        this.stats.retransmits++;
        emit(r, true);
        sent++;
      }
    }
    const wndEnd = this.una + Math.max(this.wnd, this.outstanding === 0 ? 1 : 0);
    for (;;) {
      const avail = this.dataEnd - this.nxt;
      if (avail <= 0) break;
      const room = Math.min(wndEnd - this.nxt, cwnd - this.inflight);
      const len = Math.min(this.mss, avail, room);
      if (len <= 0) break;
      // Sender-side silly-window avoidance: no runt while data is in flight, unless pushing.
      if (len < this.mss && len < avail && this.inflight > 0) break;
      if (len < this.mss && !nagleOff && this.inflight > 0) break;
      const rec = newRecord(this.nxt, this.nxt + len, now);
      if (this.finQueued && this.pendingBytes === 0 && rec.end === this.dataEnd) {
        rec.fin = true;
        rec.end++;
        this.finSent = true;
      }
      this.#send(rec, now, emit);
      sent++;
      if (rec.fin) return sent;
    }
    if (this.finQueued && !this.finSent && this.pendingBytes === 0 && this.nxt === this.dataEnd) {
      const rec = newRecord(this.nxt, this.nxt + 1, now);
      rec.fin = true;
      this.finSent = true;
      this.#send(rec, now, emit);
      sent++;
    }
    return sent;
  }

  #armProbe(now: number): void {
    this.probeAt = this.outstanding > 0 && !this.#probed ? now + Math.max(2 * this.srtt, TLP_MIN_MS) : 0;
  }

  /**
   * Tail loss probe: when a flight went quiet, retransmit its last unSACKed segment so that the
   * answer's SACK lets RACK find the losses before it, instead of waiting for the RTO.
   */
  probe(now: number, emit: Emit): void {
    this.probeAt = 0;
    if (this.#probed || this.outstanding === 0 || this.#lostCount > 0) return;
    for (let i = this.records.length - 1; i >= this.#head; i--) {
      const r = this.records[i]!;
      if (r.sacked || r.syn) continue;
      this.#probed = true;
      r.xmits++;
      r.sentAt = now;
      this.stats.tailProbes++;
      emit(r, true);
      return;
    }
  }

  #send(rec: SegRecord, now: number, emit: Emit): void {
    this.#push(rec);
    if (this.probeAt === 0 && !this.#probed) this.probeAt = now + Math.max(2 * this.srtt, TLP_MIN_MS);
    this.nxt = rec.end;
    this.inflight += rec.end - rec.start;
    if (this.rtoAt === 0) this.rtoAt = now + this.rto;
    emit(rec, false);
  }

  #push(rec: SegRecord): void {
    this.records.push(rec);
  }

  #rttSample(r: number): void {
    this.#roundSamples++;
    if (r < this.#roundMin) this.#roundMin = r;
    if (this.srtt < 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.min(Math.max(MIN_RTO_MS, this.srtt + Math.max(10, 4 * this.rttvar)), MAX_RTO_MS);
  }

  #hystartRound(): void {
    const cc = this.cc;
    if (cc.cwnd < cc.ssthresh && this.#roundSamples >= HYSTART_MIN_SAMPLES) {
      const last = this.#lastRoundMin;
      const eta = Math.min(Math.max(last / 8, HYSTART_MIN_ETA_MS), HYSTART_MAX_ETA_MS);
      if (Number.isFinite(last) && this.#roundMin >= last + eta) {
        cc.ssthresh = cc.cwnd;
        this.stats.slowStartExits++;
      }
    }
    if (this.una < this.#roundEnd) return;
    this.#roundEnd = this.nxt;
    if (this.#roundSamples >= HYSTART_MIN_SAMPLES) this.#lastRoundMin = this.#roundMin;
    this.#roundMin = Number.POSITIVE_INFINITY;
    this.#roundSamples = 0;
  }

  /** Bytes the application may still write before `write` reports back-pressure. */
  get writable(): number {
    return this.pendingBytes > 0 ? 0 : this.ring.free;
  }
}

function newRecord(start: number, end: number, now: number): SegRecord {
  return { start, end, sentAt: now, xmits: 1, sacked: false, lost: false, syn: false, fin: false };
}
