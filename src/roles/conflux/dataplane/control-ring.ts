/**
 * Main-thread consumer of the RX → main ring of non-transport datagrams (handshakes, cookies,
 * control). The RX loop writes a slot, then advances the head; the main thread copies the slot
 * out (a native memcpy via `slice`), then advances the tail. Bounded: a full ring drops and counts.
 */
import { decodeSockaddr, type Endpoint } from "../../../ffi/udp.ts";
import {
  CTRL_DATA_OFF,
  CTRL_MAX_DATAGRAM,
  CTRL_OFF,
  CTRL_SLOT_SIZE,
  CTRL_SLOTS,
  G_CTRL_HEAD,
  G_CTRL_TAIL,
} from "./layout.ts";

export type ControlHandler = (datagram: Uint8Array, from: Endpoint) => void;

export class ControlRing {
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;

  constructor(sab: SharedArrayBuffer) {
    this.u8 = new Uint8Array(sab);
    this.u32 = new Uint32Array(sab);
  }

  pending(): number {
    return (Atomics.load(this.u32, G_CTRL_HEAD >> 2) - Atomics.load(this.u32, G_CTRL_TAIL >> 2)) >>> 0;
  }

  /** Hands every queued datagram to `handler` (owned copies); returns how many. */
  drain(handler: ControlHandler, onError: (e: unknown) => void): number {
    let tail = Atomics.load(this.u32, G_CTRL_TAIL >> 2);
    const head = Atomics.load(this.u32, G_CTRL_HEAD >> 2);
    let n = 0;
    while (tail !== head) {
      const off = CTRL_OFF + (tail % CTRL_SLOTS) * CTRL_SLOT_SIZE;
      const len = Atomics.load(this.u32, off >> 2);
      const addrLen = Atomics.load(this.u32, (off + 4) >> 2);
      const data =
        len <= CTRL_MAX_DATAGRAM ? this.u8.slice(off + CTRL_DATA_OFF, off + CTRL_DATA_OFF + len) : null;
      const from = decodeSockaddr(this.u8.slice(off + 8, off + 40), addrLen);
      tail = (tail + 1) >>> 0;
      Atomics.store(this.u32, G_CTRL_TAIL >> 2, tail);
      n++;
      if (data && from) {
        try {
          handler(data, from);
        } catch (e) {
          onError(e); // a handler's failure must not stop the ring
        }
      }
    }
    return n;
  }
}
