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
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];
