/**
 * The first byte of every Anchor datagram. One table for the whole protocol so that the data plane
 * can demultiplex with a single byte compare: Transport goes to the native loop, the rest to the
 * main thread.
 */
export const MsgType = {
  HandshakeInitiation: 1,
  HandshakeResponse: 2,
  CookieReply: 3,
  Transport: 4,
  PathCell: 5,
  /** One byte, no payload: opens a NAT mapping towards a peer that is about to dial us. Ignored on receipt. */
  Punch: 6,
  /**
   * A path cell relayed by a node's native data plane: same layout as PathCell, sealed with the
   * link's relay key (HKDF(link key, "veilnet path relay key v1")), whose counter only the relaying
   * data plane owns. Opened by the next hop's data plane, never by JavaScript.
   */
  RelayCell: 7,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];
