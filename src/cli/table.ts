/**
 * Aligned plain-text tables and the small value formats the local commands print (like `ip -br` or
 * `wg show`): columns padded to their widest cell, two spaces apart, numbers right-aligned.
 */

export interface Column {
  readonly header: string;
  /** Right-align (numbers). */
  readonly right?: boolean;
}

/** Renders rows under a header row; cells are strings already (no ANSI colour). */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => {
        const cell = clean(cells[i] ?? "");
        return c.right ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join("\n");
}

/** Two columns, no header: `name  value` lines for a record. */
export function renderPairs(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${clean(v)}`.trimEnd()).join("\n");
}

/** Control characters from the node (or a peer's certificate) never reach the terminal raw. */
export function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** 0 B, 812 B, 1.5 KiB, 23.4 MiB … */
export function formatBytes(n: unknown): string {
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) return "-";
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[u]}`;
}

/** 45s, 3m05s, 2h03m, 4d06h; negative durations keep their sign. */
export function formatDuration(seconds: unknown): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "-";
  if (seconds < 0) return `-${formatDuration(-seconds)}`;
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad2(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad2(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${pad2(Math.floor(s / 3600) % 24)}h`;
}

export function formatCount(n: unknown): string {
  return typeof n === "number" && Number.isFinite(n) ? String(n) : "-";
}

/** A node id shown short, as `git` shows commits. */
export function shortId(id: unknown, length = 12): string {
  return typeof id === "string" ? id.slice(0, length) : "-";
}

export function str(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (typeof v === "string") return v || "-";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

const pad2 = (n: number) => String(n).padStart(2, "0");
