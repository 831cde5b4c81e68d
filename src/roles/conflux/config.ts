/**
 * Conflux configuration: defaults < config file (JSON) < flags. Validated once, then frozen;
 * every error names the offending key and the accepted range.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError } from "../../errors.ts";

export interface ConfluxConfig {
  /** State directory: identity (0600), credentials, Q-table, control socket. */
  readonly stateDir: string;
  /** Guardian enrolment URL; needed only on first start. */
  readonly guardianUrl: string | undefined;
  /** Enrolment token; needed only on first start. Never logged. */
  readonly token: string | undefined;
  /** The realm the token enrols into; needed only on first start. */
  readonly realm: string | undefined;
  /**
   * UDP port for Anchor traffic (0 = any). Undefined = derived from the node id, so that two nodes
   * behind one port-preserving NAT do not collide on the same public port.
   */
  readonly listenPort: number | undefined;
  /** TUN device name, or undefined for embedded (in-process) I/O. */
  readonly tunName: string | undefined;
  /** Inner MTU of the overlay; undefined: derived from the underlay at start (underlay-mtu.ts). */
  readonly mtu: number | undefined;
  /** Guardian's CA bundle (PEM) to trust for the enrolment HTTPS call. */
  readonly guardianCaFile: string | undefined;
  /** Local addresses to advertise instead of the interface list (for tests and odd hosts). */
  readonly advertise: readonly string[];
}

/** The node's local control socket, in its state directory (control/local-control.ts). */
export const LOCAL_CONTROL_SOCKET = "veilnet.sock";

export const CONFLUX_DEFAULTS = {
  stateDir: "/var/lib/veilnet",
  /** Derived ports fall in [LISTEN_PORT_BASE, LISTEN_PORT_BASE + LISTEN_PORT_SPAN). */
  listenPortBase: 40000,
  listenPortSpan: 20000,
  tunName: "veil0",
} as const;

export const MTU_MIN = 1280; // IPv6 minimum link MTU
export const MTU_MAX = 8920; // 9000 jumbo minus outer IP/UDP/Anchor overhead

export interface ConfluxFlags {
  config?: string;
  state?: string;
  guardian?: string;
  token?: string;
  realm?: string;
  listen?: string;
  tun?: string;
  mtu?: string;
  guardianCa?: string;
  advertise?: string;
  embedded?: boolean;
}

export function loadConfluxConfig(flags: ConfluxFlags): ConfluxConfig {
  const file = flags.config ? readConfigFile(flags.config) : {};
  const pick = (flag: string | undefined, key: string): string | undefined => flag ?? stringField(file, key);
  const embedded = flags.embedded === true || file.embedded === true;
  const tun = embedded ? undefined : (pick(flags.tun, "tun") ?? CONFLUX_DEFAULTS.tunName);
  if (tun !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(tun)) {
    throw new UsageError(
      "CONFIG_BAD_TUN",
      `tun: '${tun}' is not a valid interface name (1-15 of [A-Za-z0-9_.-])`,
    );
  }
  const guardianUrl = pick(flags.guardian, "guardian");
  if (guardianUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(guardianUrl)) {
    throw new UsageError("CONFIG_BAD_GUARDIAN", `guardian: '${guardianUrl}' is not an http(s) URL`);
  }
  const advertiseRaw = pick(flags.advertise, "advertise");
  return Object.freeze({
    stateDir: resolve(pick(flags.state, "state") ?? CONFLUX_DEFAULTS.stateDir),
    guardianUrl,
    token: pick(flags.token, "token"),
    realm: pick(flags.realm, "realm"),
    listenPort: optionalInteger("listen", pick(flags.listen, "listen"), 0, 65535),
    tunName: tun,
    mtu: optionalInteger("mtu", pick(flags.mtu, "mtu"), MTU_MIN, MTU_MAX),
    guardianCaFile: pick(flags.guardianCa, "guardianCa"),
    advertise: Object.freeze(advertiseRaw ? advertiseRaw.split(",").map((s) => s.trim()) : []),
  });
}

function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new UsageError("CONFIG_MISSING", `config: ${path} does not exist`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError("CONFIG_BAD_JSON", `config: ${path} is not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError("CONFIG_BAD_JSON", `config: ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function stringField(file: Record<string, unknown>, key: string): string | undefined {
  const value = file[key];
  if (value === undefined) return undefined;
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return value;
  throw new UsageError("CONFIG_BAD_TYPE", `config: '${key}' must be a string or number`);
}

function optionalInteger(
  name: string,
  raw: string | undefined,
  min: number,
  max: number,
): number | undefined {
  return raw === undefined ? undefined : integer(name, raw, min, min, max);
}

/** The default Anchor port of a node: stable across restarts, spread across nodes. */
export function derivedListenPort(nodeId: Uint8Array): number {
  const v = ((nodeId[0] ?? 0) << 8) | (nodeId[1] ?? 0);
  return CONFLUX_DEFAULTS.listenPortBase + (v % CONFLUX_DEFAULTS.listenPortSpan);
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError("CONFIG_BAD_NUMBER", `${name}: '${raw}' is not an integer in ${min}..${max}`);
  }
  return n;
}
