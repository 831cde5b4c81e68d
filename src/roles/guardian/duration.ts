import { UsageError } from "../../errors.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "1h", "7d", "250ms" → milliseconds (a bare number is seconds). */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m)
    throw new UsageError("USAGE_BAD_DURATION", `${flag}: '${text}' is not a duration like 90s, 30m, 1h`);
  const ms = Number(m[1]) * UNITS[m[2] ?? "s"]!;
  if (!(ms > 0) || !Number.isFinite(ms))
    throw new UsageError("USAGE_BAD_DURATION", `${flag} must be positive`);
  return Math.round(ms);
}

/** "a,b, c" → ["a","b","c"] (empty items dropped). */
export function parseList(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
