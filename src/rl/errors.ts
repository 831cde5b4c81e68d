import { VeilnetError } from "../errors.ts";

/** A neighbour summary that failed validation (hostile or corrupt input); the summary is dropped. */
export class SummaryError extends VeilnetError {
  override readonly name = "SummaryError";
}

/** The Q-table store could not be opened or written. Load problems are not fatal (see qtable-store.ts). */
export class QTableStoreError extends VeilnetError {
  override readonly name = "QTableStoreError";
}

/** A path handed to the agent breaks the path rules (loop, repeated hop, hop cap, wrong ends). */
export class PathError extends VeilnetError {
  override readonly name = "PathError";
}
