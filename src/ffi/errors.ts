/** Errors of the libc binding layer. Control-plane only: the data plane counts drops instead. */
import { VeilnetError } from "../errors.ts";
import { errnoName } from "./errno.ts";

/** A libc call failed; carries the numeric errno and its symbolic name (e.g. `EPERM`). */
export class ErrnoError extends VeilnetError {
  override readonly name = "ErrnoError";
  readonly errno: number;
  readonly errnoName: string;
  readonly call: string;
  constructor(call: string, errno: number, detail?: string) {
    const sym = errnoName(errno);
    super(`FFI_${sym}`, `${call}${detail ? ` (${detail})` : ""} failed: ${sym} (errno ${errno})`);
    this.errno = errno;
    this.errnoName = sym;
    this.call = call;
  }
}

/** A kernel answer (netlink, ioctl result) that did not parse as the protocol says. */
export class KernelProtocolError extends VeilnetError {
  override readonly name = "KernelProtocolError";
}

/** An argument the binding refuses before reaching the kernel (bad address, name too long…). */
export class FfiArgumentError extends VeilnetError {
  override readonly name = "FfiArgumentError";
}
