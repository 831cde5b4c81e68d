/**
 * Prometheus text exposition format 0.0.4: a writer for metric families, and a strict line-by-line
 * reader that checks what the writer (or any exporter) produced — names, `# HELP`/`# TYPE` once per
 * family and before its samples, families contiguous, counters named `_total`, label escaping,
 * values, no duplicate series.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "counter" | "gauge";
export type Labels = Readonly<Record<string, string>>;

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly { readonly labels?: Labels; readonly value: number }[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class MetricFormatError extends Error {
  override readonly name = "MetricFormatError";
}

/** Renders families in order; throws on a bad name (a programming error, not input). */
export function renderExposition(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new MetricFormatError(`bad metric name '${f.name}'`);
    if (f.type === "counter" && !f.name.endsWith("_total"))
      throw new MetricFormatError(`counter '${f.name}' must end in _total`);
    if (seen.has(f.name)) throw new MetricFormatError(`family '${f.name}' twice`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(`${f.name}${renderLabels(s.labels)} ${renderValue(s.value)}`);
  }
  return `${out.join("\n")}\n`;
}

function renderLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([k, v]) => {
    if (!LABEL_NAME.test(k) || k.startsWith("__")) throw new MetricFormatError(`bad label name '${k}'`);
    return `${k}="${escapeLabel(v)}"`;
  });
  return parts.length ? `{${parts.join(",")}}` : "";
}

function renderValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

const escapeHelp = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

export interface ParsedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface ParsedExposition {
  readonly families: Map<string, { help: string; type: string; samples: ParsedSample[] }>;
}

/**
 * Reads exposition text back, line by line, and throws a {@link MetricFormatError} naming the line
 * at the first violation. Only counter and gauge families are accepted (all this node exports).
 */
export function parseExposition(text: string): ParsedExposition {
  if (!text.endsWith("\n")) throw new MetricFormatError("text must end with a newline");
  const families = new Map<string, { help: string; type: string; samples: ParsedSample[] }>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, i) => {
    const at = `line ${i + 1}: ${JSON.stringify(line.slice(0, 120))}`;
    const fail = (why: string): never => {
      throw new MetricFormatError(`${why} at ${at}`);
    };
    if (line === "") fail("empty line");
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment as unknown as [string, "HELP" | "TYPE", string, string];
      if (!METRIC_NAME.test(name)) fail("bad metric name");
      if (closed.has(name)) fail(`family ${name} is not contiguous`);
      if (current !== name && current !== undefined) closed.add(current);
      current = name;
      let f = families.get(name);
      if (!f) {
        f = { help: "", type: "", samples: [] };
        families.set(name, f);
      }
      if (f.samples.length > 0) fail(`${kind} after samples of ${name}`);
      if (kind === "HELP") {
        if (f.help) fail(`second HELP for ${name}`);
        f.help = unescapeHelp(rest, fail);
        if (!f.help) fail("empty HELP");
      } else {
        if (f.type) fail(`second TYPE for ${name}`);
        if (rest !== "counter" && rest !== "gauge") fail(`unsupported TYPE '${rest}'`);
        if (rest === "counter" && !name.endsWith("_total")) fail("counter name must end in _total");
        f.type = rest;
      }
      return;
    }
    if (line.startsWith("#")) fail("unknown comment");
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) fail("not a sample");
    const [, name, rawLabels, rawValue] = m as unknown as [string, string, string | undefined, string];
    const f = families.get(name);
    if (!f?.type || !f.help) fail(`sample of ${name} before its HELP and TYPE`);
    if (current !== name) fail(`sample of ${name} outside its family`);
    const labels = rawLabels ? parseLabels(rawLabels.slice(1, -1), fail) : {};
    const value = parseValue(rawValue, fail);
    if (f!.type === "counter" && !(value >= 0)) fail("counter value must be ≥ 0");
    const key = `${name}{${Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(",")}}`;
    if (series.has(key)) fail(`duplicate series ${key}`);
    series.add(key);
    f!.samples.push({ name, labels, value });
  });
  for (const [name, f] of families) {
    if (!f.type || !f.help) throw new MetricFormatError(`family ${name} lacks HELP or TYPE`);
  }
  return { families };
}

function parseLabels(body: string, fail: (why: string) => never): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(body.slice(i))?.[0];
    if (!name) fail("bad label name");
    i += name!.length;
    if (body.slice(i, i + 2) !== '="') fail('label without ="');
    i += 2;
    let value = "";
    for (;;) {
      const c = body[i];
      if (c === undefined) fail("unterminated label value");
      if (c === '"') break;
      if (c === "\\") {
        const n = body[i + 1];
        if (n === "\\") value += "\\";
        else if (n === '"') value += '"';
        else if (n === "n") value += "\n";
        else fail("bad escape in label value");
        i += 2;
        continue;
      }
      if (c === "\n") fail("newline in label value");
      value += c;
      i++;
    }
    i++;
    if (Object.hasOwn(out, name!)) fail(`label ${name} twice`);
    out[name!] = value;
    if (i < body.length) {
      if (body[i] !== ",") fail("labels not separated by ,");
      i++;
    }
  }
  return out;
}

function parseValue(raw: string, fail: (why: string) => never): number {
  if (raw === "NaN") return Number.NaN;
  if (raw === "+Inf") return Number.POSITIVE_INFINITY;
  if (raw === "-Inf") return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) fail(`bad value '${raw}'`);
  return Number(raw);
}

function unescapeHelp(s: string, fail: (why: string) => never): string {
  return s.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    return fail("bad escape in HELP");
  });
}
