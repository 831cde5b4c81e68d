/**
 * The Master plan: which NATS clusters and servers exist, where they listen, and where the trust
 * material lives. Plain JSON (hostile until parsed), e.g.
 *
 *   { "operator": "veilnet", "trust": "./trust",
 *     "clusters": [ { "name": "A", "servers": [
 *       { "name": "A1", "host": "127.0.0.1", "client": 14001, "cluster": 14101, "gateway": 14201,
 *         "monitor": 14301 } ] } ],
 *     "limits": { "maxPayload": 262144 } }
 *
 * `host` is both the listen address and the address peers and clients dial; `advertise` overrides
 * the latter. Relative `trust` paths are resolved against the plan file's directory.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, resolve } from "node:path";
import { MasterError } from "./errors.ts";

/* Implementation constants */
export const MAX_CLUSTERS = 32;
export const MAX_SERVERS_PER_CLUSTER = 16;
export const PLAN_MAX_BYTES = 1 << 20;

export interface PlanLimits {
  /** Largest control message in bytes; hybrid-signed, sealed envelopes are ~5 KiB. */
  readonly maxPayload: number;
  /** A slow consumer is cut off after a write blocks this long. */
  readonly writeDeadline: string;
  /** Bytes buffered per client before it is a slow consumer. */
  readonly maxPending: number;
  readonly pingInterval: string;
  readonly pingMax: number;
  readonly maxConnections: number;
  /** Server log rotation size (nats-server `logfile_size_limit`). */
  readonly logSizeLimit: string;
}

export const DEFAULT_LIMITS: PlanLimits = Object.freeze({
  maxPayload: 256 * 1024,
  writeDeadline: "2s",
  maxPending: 16 * 1024 * 1024,
  pingInterval: "20s",
  pingMax: 3,
  maxConnections: 65_536,
  logSizeLimit: "16MB",
});

export interface PlanServer {
  readonly name: string;
  readonly cluster: string;
  readonly host: string;
  readonly advertise: string;
  readonly clientPort: number;
  readonly clusterPort: number;
  readonly gatewayPort: number;
  readonly monitorPort: number;
}

export interface PlanCluster {
  readonly name: string;
  readonly servers: readonly PlanServer[];
}

export interface Plan {
  readonly operator: string;
  /** Absolute path of the trust directory. */
  readonly trust: string;
  readonly clusters: readonly PlanCluster[];
  readonly limits: PlanLimits;
}

export function allServers(plan: Plan): PlanServer[] {
  return plan.clusters.flatMap((c) => c.servers);
}

/** Client URLs of every server in every cluster (what nodes put in their server list). */
export function clientUrls(plan: Plan): string[] {
  return allServers(plan).map((s) => `tls://${hostPort(s.advertise, s.clientPort)}`);
}

export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export function loadPlan(path: string): Plan {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new MasterError("MASTER_PLAN_READ", `cannot read plan ${path}`, { cause });
  }
  if (text.length > PLAN_MAX_BYTES) throw new MasterError("MASTER_PLAN_INVALID", "plan is larger than 1 MiB");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new MasterError("MASTER_PLAN_INVALID", `plan ${path} is not valid JSON`, { cause });
  }
  return parsePlan(raw, dirname(resolve(path)));
}

/** Validates an untrusted plan object; every problem is a MASTER_PLAN_INVALID naming the field. */
export function parsePlan(raw: unknown, baseDir: string): Plan {
  const o = obj(raw, "plan");
  const operator = name(o.operator ?? "veilnet", "operator");
  const trust = resolve(baseDir, str(o.trust, "trust"));
  const clustersRaw = arr(o.clusters, "clusters");
  if (clustersRaw.length === 0 || clustersRaw.length > MAX_CLUSTERS) {
    bad(`clusters must have 1..${MAX_CLUSTERS} entries`);
  }
  const seenNames = new Set<string>();
  const seenListen = new Set<string>();
  const clusters = clustersRaw.map((c, ci): PlanCluster => {
    const co = obj(c, `clusters[${ci}]`);
    const cname = name(co.name, `clusters[${ci}].name`);
    if (seenNames.has(`cluster:${cname}`)) bad(`duplicate cluster ${cname}`);
    seenNames.add(`cluster:${cname}`);
    const serversRaw = arr(co.servers, `clusters[${ci}].servers`);
    if (serversRaw.length === 0 || serversRaw.length > MAX_SERVERS_PER_CLUSTER) {
      bad(`cluster ${cname} must have 1..${MAX_SERVERS_PER_CLUSTER} servers`);
    }
    const servers = serversRaw.map((s, si): PlanServer => {
      const at = `clusters[${ci}].servers[${si}]`;
      const so = obj(s, at);
      const sname = name(so.name, `${at}.name`);
      if (seenNames.has(`server:${sname}`)) bad(`duplicate server ${sname}`);
      seenNames.add(`server:${sname}`);
      const host = address(so.host, `${at}.host`);
      const server: PlanServer = {
        name: sname,
        cluster: cname,
        host,
        advertise: so.advertise === undefined ? host : address(so.advertise, `${at}.advertise`),
        clientPort: port(so.client, `${at}.client`),
        clusterPort: port(so.cluster, `${at}.cluster`),
        gatewayPort: port(so.gateway, `${at}.gateway`),
        monitorPort: port(so.monitor, `${at}.monitor`),
      };
      for (const p of [server.clientPort, server.clusterPort, server.gatewayPort, server.monitorPort]) {
        const key = `${host}:${p}`;
        if (seenListen.has(key)) bad(`${at}: ${key} is used twice`);
        seenListen.add(key);
      }
      return Object.freeze(server);
    });
    return Object.freeze({ name: cname, servers: Object.freeze(servers) });
  });
  return Object.freeze({
    operator,
    trust,
    clusters: Object.freeze(clusters),
    limits: parseLimits(o.limits),
  });
}

function parseLimits(raw: unknown): PlanLimits {
  if (raw === undefined) return DEFAULT_LIMITS;
  const o = obj(raw, "limits");
  const known = new Set(Object.keys(DEFAULT_LIMITS));
  for (const k of Object.keys(o)) if (!known.has(k)) bad(`limits.${k} is not a known limit`);
  const int = (k: keyof PlanLimits, min: number, max: number): number => {
    const v = o[k] ?? DEFAULT_LIMITS[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      bad(`limits.${k} must be ${min}..${max}`);
    return v as number;
  };
  const dur = (k: keyof PlanLimits): string => {
    const v = o[k] ?? DEFAULT_LIMITS[k];
    if (typeof v !== "string" || !/^\d{1,6}(ms|s|m)$/.test(v)) bad(`limits.${k} must be like "2s"`);
    return v as string;
  };
  const logSizeLimit = o.logSizeLimit ?? DEFAULT_LIMITS.logSizeLimit;
  if (typeof logSizeLimit !== "string" || !/^\d{1,6}(KB|MB|GB)$/.test(logSizeLimit)) {
    bad('limits.logSizeLimit must be like "16MB"');
  }
  return Object.freeze({
    maxPayload: int("maxPayload", 1024, 64 * 1024 * 1024),
    writeDeadline: dur("writeDeadline"),
    maxPending: int("maxPending", 64 * 1024, 1024 * 1024 * 1024),
    pingInterval: dur("pingInterval"),
    pingMax: int("pingMax", 1, 100),
    maxConnections: int("maxConnections", 1, 10_000_000),
    logSizeLimit: logSizeLimit as string,
  });
}

function bad(message: string): never {
  throw new MasterError("MASTER_PLAN_INVALID", `plan: ${message}`);
}
function obj(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(`${at} must be an object`);
  return v as Record<string, unknown>;
}
function arr(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) bad(`${at} must be an array`);
  return v as unknown[];
}
function str(v: unknown, at: string): string {
  if (typeof v !== "string" || v.length === 0 || v.length > 4096 || /[\0\n"\\]/.test(v)) {
    bad(`${at} must be a non-empty path without quotes, backslashes or newlines`);
  }
  return v as string;
}
/** Names end up in configs, file names and NATS cluster names: keep them to a safe alphabet. */
function name(v: unknown, at: string): string {
  if (typeof v !== "string" || !/^[A-Za-z0-9_-]{1,32}$/.test(v)) bad(`${at} must be 1-32 of [A-Za-z0-9_-]`);
  return v as string;
}
function address(v: unknown, at: string): string {
  if (typeof v !== "string") bad(`${at} must be a string`);
  const s = v as string;
  if (
    isIP(s) === 0 &&
    !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(
      s,
    )
  ) {
    bad(`${at} must be an IP address or a DNS name`);
  }
  return s;
}
function port(v: unknown, at: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65_535)
    bad(`${at} must be a port 1..65535`);
  return v as number;
}
