/** The libc binding layer: TUN devices, interface configuration, sockets. Knows nothing above it. */
export { Errno, errnoName } from "./errno.ts";
export { ErrnoError, FfiArgumentError, KernelProtocolError } from "./errors.ts";
export * from "./inet.ts";
export * from "./libc.ts";
export * from "./netif.ts";
export * from "./tun.ts";
export * from "./udp.ts";
