/**
 * The base of every control-plane error in veilnet. Each subclass sets an explicit `name`
 * (it survives --minify) and a stable `code` that scripts and tests can match on.
 */
export class VeilnetError extends Error {
  override readonly name: string = "VeilnetError";
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Bad command-line input: printed as one line, exit code 2. */
export class UsageError extends VeilnetError {
  override readonly name = "UsageError";
}
