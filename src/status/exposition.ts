/**
 * A parser of the Prometheus text exposition format (version 0.0.4, what node-exporter serves): `# HELP` and
 * `# TYPE` lines, samples with labels (values with `\\`, `\"` and `\n` escapes), values including `NaN`, `+Inf` and
 * `-Inf`, optional millisecond timestamps, and the `_bucket`/`_sum`/`_count` (and summary) samples of a family.
 * Strict: a line it cannot read is an error naming the line, so a broken page is reported, never half-read. Pure.
 *
 * Written here rather than taken from npm: the one parser there (parse-prometheus-text-format) has no types, gives
 * values as strings and drops timestamps; this one is about a hundred lines and tested in test/status.test.ts.
 */

/** A family's TYPE (`untyped` when the page gives none). */
export type FamilyType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

/** One sample line. */
export interface Sample {
  /** Series name as written (`coturn_session_duration_seconds_bucket`). */
  readonly name: string;
  /** Labels, unescaped. */
  readonly labels: Readonly<Record<string, string>>;
  /** The value (NaN and ±Infinity included). */
  readonly value: number;
  /** The optional timestamp, milliseconds since the epoch. */
  readonly timestampMs?: number;
  /** The family it belongs to (`coturn_session_duration_seconds` for a histogram's buckets). */
  readonly family: string;
}

/** One metric family: its HELP, TYPE and samples. */
export interface MetricFamily {
  readonly name: string;
  readonly type: FamilyType;
  readonly help?: string;
  readonly samples: readonly Sample[];
}

/** A parsed page. */
export interface Exposition {
  /** Families by name, in page order. */
  readonly families: ReadonlyMap<string, MetricFamily>;
  /** Every sample, in page order. */
  readonly samples: readonly Sample[];
}

/** A page that is not valid text format; `line` is 1-based. */
export class ExpositionError extends Error {
  override name = "ExpositionError";
  /** Builds the error for line `line`. */
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const TYPES: readonly FamilyType[] = ["counter", "gauge", "histogram", "summary", "untyped"];
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
/** Suffixes of the samples of histograms and summaries. */
const SUFFIXES: Readonly<Record<string, readonly string[]>> = { histogram: ["_bucket", "_sum", "_count"], summary: ["_sum", "_count"] };

/** A value or timestamp as Go's ParseFloat reads the text format's floats. */
function parseFloatToken(token: string): number | undefined {
  switch (token.toLowerCase()) {
    case "nan":
      return Number.NaN;
    case "+inf":
    case "inf":
      return Number.POSITIVE_INFINITY;
    case "-inf":
      return Number.NEGATIVE_INFINITY;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(token)) return undefined;
  return Number(token);
}

/** Unescapes a HELP text (`\\` and `\n`). */
function unescapeHelp(text: string): string {
  return text.replace(/\\(.)/g, (whole, c: string) => (c === "n" ? "\n" : c === "\\" ? "\\" : whole));
}

/** Parses a page of the text format; throws ExpositionError naming the first bad line. */
export function parseExposition(text: string): Exposition {
  const families = new Map<string, { name: string; type: FamilyType; help?: string; samples: Sample[]; typed: boolean }>();
  const samples: Sample[] = [];
  const familyFor = (name: string) => {
    let family = families.get(name);
    if (!family) {
      family = { name, type: "untyped", samples: [], typed: false };
      families.set(name, family);
    }
    return family;
  };
  /** The typed family a sample name belongs to: itself, or a histogram/summary it is a suffix of. */
  const owner = (name: string): string => {
    for (const [base, suffixes] of Object.entries(SUFFIXES)) {
      for (const suffix of suffixes) {
        if (!name.endsWith(suffix)) continue;
        const family = families.get(name.slice(0, -suffix.length));
        if (family?.type === base) return family.name;
      }
    }
    return name;
  };

  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const lineNo = index + 1;
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const meta = /^#\s+(HELP|TYPE)\s+([^\s]+)(?:[ \t]+(.*))?$/.exec(line);
      if (!meta) continue; // An ordinary comment.
      const [, kind, name, rest = ""] = meta;
      if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)?.[0] !== name) throw new ExpositionError(lineNo, `"${name}" is not a metric name`);
      const family = familyFor(name);
      if (kind === "HELP") {
        if (family.help !== undefined) throw new ExpositionError(lineNo, `second HELP line for ${name}`);
        family.help = unescapeHelp(rest);
      } else {
        const type = rest.trim() as FamilyType;
        if (!TYPES.includes(type)) throw new ExpositionError(lineNo, `unknown TYPE "${rest.trim()}" for ${name}`);
        if (family.typed) throw new ExpositionError(lineNo, `second TYPE line for ${name}`);
        if (family.samples.length > 0) throw new ExpositionError(lineNo, `TYPE line for ${name} after its samples`);
        family.type = type;
        family.typed = true;
      }
      continue;
    }
    const sample = parseSampleLine(line, lineNo, owner);
    familyFor(sample.family).samples.push(sample);
    samples.push(sample);
  }
  const result = new Map<string, MetricFamily>();
  for (const f of families.values()) {
    result.set(f.name, { name: f.name, type: f.type, ...(f.help === undefined ? {} : { help: f.help }), samples: f.samples });
  }
  return { families: result, samples };
}

function parseSampleLine(line: string, lineNo: number, owner: (name: string) => string): Sample {
  let at = 0;
  const fail = (message: string): never => {
    throw new ExpositionError(lineNo, `${message} (at column ${at + 1} of ${JSON.stringify(line.length > 120 ? `${line.slice(0, 120)}…` : line)})`);
  };
  const skipBlanks = (): void => {
    while (line[at] === " " || line[at] === "\t") at++;
  };
  skipBlanks();
  const name = METRIC_NAME.exec(line.slice(at))?.[0];
  if (!name) return fail("expected a metric name");
  at += name.length;
  const labels: Record<string, string> = {};
  skipBlanks();
  if (line[at] === "{") {
    at++;
    for (;;) {
      skipBlanks();
      if (line[at] === "}") {
        at++;
        break;
      }
      const label = LABEL_NAME.exec(line.slice(at))?.[0];
      if (!label) return fail("expected a label name or }");
      at += label.length;
      skipBlanks();
      if (line[at] !== "=") return fail(`expected = after label ${label}`);
      at++;
      skipBlanks();
      if (line[at] !== '"') return fail(`expected " to open the value of label ${label}`);
      at++;
      let value = "";
      for (;;) {
        const c = line[at];
        if (c === undefined) return fail(`unterminated value of label ${label}`);
        at++;
        if (c === '"') break;
        if (c === "\\") {
          const next = line[at++];
          if (next === "n") value += "\n";
          else if (next === "\\" || next === '"') value += next;
          else return fail(`unknown escape \\${next ?? ""} in label ${label}`);
        } else value += c;
      }
      if (label in labels) return fail(`label ${label} given twice`);
      labels[label] = value;
      skipBlanks();
      if (line[at] === ",") at++;
      else if (line[at] !== "}") return fail("expected , or } after a label value");
    }
  }
  const tokens = line.slice(at).trim().split(/[ \t]+/).filter(Boolean);
  if (tokens.length < 1 || tokens.length > 2) return fail(tokens.length === 0 ? "expected a value" : "expected a value and at most a timestamp");
  const value = parseFloatToken(tokens[0]);
  if (value === undefined) return fail(`"${tokens[0]}" is not a number`);
  let timestampMs: number | undefined;
  if (tokens.length === 2) {
    if (!/^-?\d+$/.test(tokens[1])) return fail(`"${tokens[1]}" is not a timestamp (integer milliseconds)`);
    timestampMs = Number(tokens[1]);
  }
  return { name, labels, value, ...(timestampMs === undefined ? {} : { timestampMs }), family: owner(name) };
}

/** The samples named `name` whose labels include every pair of `match`. */
export function samplesOf(exposition: Exposition, name: string, match: Readonly<Record<string, string>> = {}): Sample[] {
  return exposition.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The sum of the values of `samplesOf(...)`, or undefined when there is none. */
export function sumOf(exposition: Exposition, name: string, match: Readonly<Record<string, string>> = {}): number | undefined {
  const found = samplesOf(exposition, name, match);
  return found.length === 0 ? undefined : found.reduce((total, s) => total + s.value, 0);
}
