import { VeilnetError } from "../../errors.ts";

/** Path construction misuse by the control plane (bad route, too many hops, repeated node). */
export class PathError extends VeilnetError {
  override readonly name = "PathError";
}

/** Why a path cell was dropped (counted, never thrown). */
export const PathDrop = {
  Short: 1,
  BadCommand: 2,
  Reserved: 3,
  BadLength: 4,
  UnknownPath: 5,
  /** CREATE for a path id this link already holds, or from the wrong id namespace. */
  DuplicatePath: 6,
  BadNamespace: 7,
  /** A command that makes no sense in the entry's state or direction. */
  Unexpected: 8,
  BadSkin: 9,
  BadExtend: 10,
  TableFull: 11,
  TooLarge: 12,
} as const;
export type PathDrop = (typeof PathDrop)[keyof typeof PathDrop];

/** Why a hop refused to extend (EXTENDED status byte) or a path was destroyed (DESTROY reason). */
export const PathRefusal = {
  Ok: 0,
  /** The requested next hop is the node the path came from, or this node itself. */
  Loop: 1,
  /** No link session to the requested next hop. */
  NoLink: 2,
  /** Table or per-link limit reached. */
  Full: 3,
  /** The next hop refused or tore the path down. */
  NextRefused: 4,
  /** An extension is already pending on this path. */
  Busy: 5,
  /** Normal teardown by an end. */
  Closed: 6,
  /** Idle timeout or hard lifetime reached at some hop. */
  Expired: 7,
  /** The link under the path went away. */
  LinkDown: 8,
} as const;
export type PathRefusal = (typeof PathRefusal)[keyof typeof PathRefusal];
