/**
 * Just enough PromQL reading to check which metrics and labels an expression uses (promtool 2.42 has no parser
 * subcommand). A tokenizer plus one pass over the tokens: it finds every vector selector (a metric name, with or
 * without `{…}`) and the label names matched in it, and skips what is not a metric: function and aggregation names
 * (an identifier before `(`, or an aggregation keyword), keywords (`by`, `on`, `bool`, `offset`, …) and the label
 * lists after `by`/`without`/`on`/`ignoring`/`group_left`/`group_right`, everything inside `[…]` (ranges,
 * subqueries), numbers and durations, strings, comments and Grafana variables (`$x`, `${x}`, `[[x]]`).
 * It is not a validator: promtool checks the syntax of the rules; this only names what they read.
 */
import { METRIC_CATALOG, type MetricDescription } from "../../src/monitoring/metricCatalog";

/** One vector selector in an expression. */
export interface Selector {
  /** The metric name (from the identifier, or from a `__name__="…"` matcher). */
  readonly metric: string;
  /** Label names matched inside `{…}` (without `__name__`). */
  readonly labels: readonly string[];
}

/** What an expression reads. */
export interface ExpressionUse {
  /** Every vector selector, in order. */
  readonly selectors: readonly Selector[];
  /** Label names in grouping and matching clauses (`by`, `without`, `on`, `ignoring`, `group_left`, `group_right`). */
  readonly groupingLabels: readonly string[];
}

type TokenKind = "ident" | "number" | "string" | "punct" | "variable";
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

/** Aggregation operators: an identifier that is one is never a metric, whether `(` or `by` follows. */
const AGGREGATIONS = new Set([
  "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
]);
/** Keywords that are neither metrics nor labels. */
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"]);
/** Keywords followed by a parenthesised list of label names. */
const LABEL_LIST_KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);

/** Splits an expression into tokens; throws on a character it does not know (so nothing is silently ignored). */
export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  // Bounded: every branch consumes at least one character.
  while (i < expr.length) {
    const rest = expr.slice(i);
    const c = expr[i];
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (c === "#") {
      const end = expr.indexOf("\n", i);
      i = end < 0 ? expr.length : end + 1;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += c !== "`" && expr[j] === "\\" ? 2 : 1;
      if (j >= expr.length) throw new Error(`unterminated string in: ${expr}`);
      tokens.push({ kind: "string", text: expr.slice(i, j + 1) });
      i = j + 1;
      continue;
    }
    const variable = /^(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[A-Za-z0-9_:.]+\]\])/.exec(rest);
    if (variable) {
      tokens.push({ kind: "variable", text: variable[0] });
      i += variable[0].length;
      continue;
    }
    // A number, or a duration such as 5m, 1h30m, 100ms (both start with a digit or a dot).
    const number = /^(0[xX][0-9a-fA-F]+|(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)((ms|[smhdwy])(\d+(ms|[smhdwy]))*)?/.exec(rest);
    if (number && /[\d.]/.test(c)) {
      tokens.push({ kind: "number", text: number[0] });
      i += number[0].length;
      continue;
    }
    const ident = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(rest);
    if (ident) {
      tokens.push({ kind: "ident", text: ident[0] });
      i += ident[0].length;
      continue;
    }
    const punct = /^(==|!=|=~|!~|>=|<=|[-+*/%^(){}[\],:<>=@])/.exec(rest);
    if (punct) {
      tokens.push({ kind: "punct", text: punct[0] });
      i += punct[0].length;
      continue;
    }
    throw new Error(`unexpected character ${JSON.stringify(c)} at ${i} in: ${expr}`);
  }
  return tokens;
}

/** The string value of a string token (quotes removed, backslash escapes kept as the character after them). */
function unquote(text: string): string {
  const body = text.slice(1, -1);
  return text[0] === "`" ? body : body.replace(/\\(.)/g, "$1");
}

/** The metrics and labels an expression reads. Throws on a selector it cannot place (e.g. `{job="x"}` alone). */
export function expressionUse(expr: string): ExpressionUse {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  const at = (k: number): Token | undefined => tokens[k];
  /** Reads the matchers of a `{…}` starting at index k; returns the label names, a __name__ value, and the next index. */
  const readMatchers = (k: number): { labels: string[]; name?: string; next: number } => {
    const labels: string[] = [];
    let name: string | undefined;
    let j = k + 1;
    while (j < tokens.length && tokens[j].text !== "}") {
      const token = tokens[j];
      const op = at(j + 1);
      if (token.kind === "ident" && op && ["=", "!=", "=~", "!~"].includes(op.text)) {
        const value = at(j + 2);
        if (token.text === "__name__") {
          if (value?.kind === "string" && op.text === "=") name = unquote(value.text);
          else throw new Error(`__name__ matched other than with = "…": ${expr}`);
        } else {
          labels.push(token.text);
        }
        j += 3;
      } else if (token.text === ",") {
        j += 1;
      } else {
        throw new Error(`cannot read the matchers of a selector at ${JSON.stringify(token.text)} in: ${expr}`);
      }
    }
    if (j >= tokens.length) throw new Error(`unclosed { in: ${expr}`);
    return { labels, name, next: j + 1 };
  };
  let k = 0;
  // Bounded: every branch advances k.
  while (k < tokens.length) {
    const token = tokens[k];
    const next = at(k + 1);
    if (token.kind === "punct" && token.text === "[") {
      // Ranges, subqueries and Grafana's $__rate_interval: nothing in brackets is a metric.
      let j = k + 1;
      while (j < tokens.length && tokens[j].text !== "]") j += 1;
      k = j + 1;
    } else if (token.kind === "punct" && token.text === "{") {
      const { labels, name, next: after } = readMatchers(k);
      if (name === undefined) throw new Error(`a selector without a metric name in: ${expr}`);
      selectors.push({ metric: name, labels });
      k = after;
    } else if (token.kind === "ident" && LABEL_LIST_KEYWORDS.has(token.text)) {
      k += 1;
      if (next?.text === "(") {
        let j = k + 1;
        while (j < tokens.length && tokens[j].text !== ")") {
          if (tokens[j].kind === "ident") groupingLabels.push(tokens[j].text);
          j += 1;
        }
        k = j + 1;
      }
    } else if (token.kind === "ident" && (AGGREGATIONS.has(token.text) || KEYWORDS.has(token.text))) {
      k += 1;
    } else if (token.kind === "ident" && next?.text === "(") {
      k += 1; // a function: rate(, histogram_quantile(, time(, vector(, …
    } else if (token.kind === "ident") {
      if (next?.text === "{") {
        const { labels, name, next: after } = readMatchers(k + 1);
        if (name !== undefined) throw new Error(`a metric named twice (${token.text} and __name__) in: ${expr}`);
        selectors.push({ metric: token.text, labels });
        k = after;
      } else {
        selectors.push({ metric: token.text, labels: [] });
        k += 1;
      }
    } else {
      k += 1; // numbers, strings, variables, operators
    }
  }
  return { selectors, groupingLabels };
}

/** Labels every scraped series has besides the catalog's own (Prometheus adds them). */
export const TARGET_LABELS = ["job", "instance"] as const;
/** Suffixes of a histogram family's series. */
const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"] as const;

/** The labels a series name may carry, or undefined when it is neither in METRIC_CATALOG nor Prometheus' `up`. */
export function knownLabels(metric: string, catalog: readonly MetricDescription[] = METRIC_CATALOG): readonly string[] | undefined {
  if (metric === "up") return [...TARGET_LABELS];
  const exact = catalog.find((m) => m.name === metric && m.type !== "histogram");
  if (exact) return [...exact.labels, ...TARGET_LABELS];
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (!metric.endsWith(suffix)) continue;
    const family = catalog.find((m) => m.type === "histogram" && m.name === metric.slice(0, -suffix.length));
    if (family) return [...family.labels, ...TARGET_LABELS, ...(suffix === "_bucket" ? ["le"] : [])];
  }
  return undefined;
}

/**
 * What is wrong with an expression against the catalog: metrics it does not hold, labels a selector matches that its
 * metric does not have, and grouping labels that no metric of the expression has. Empty when all is well.
 */
export function catalogProblems(expr: string, catalog: readonly MetricDescription[] = METRIC_CATALOG): string[] {
  const problems: string[] = [];
  const use = expressionUse(expr);
  const present = new Set<string>();
  for (const { metric, labels } of use.selectors) {
    const allowed = knownLabels(metric, catalog);
    if (!allowed) {
      problems.push(`${metric} is not in METRIC_CATALOG (src/monitoring/metricCatalog.ts)`);
      continue;
    }
    allowed.forEach((label) => present.add(label));
    for (const label of labels) {
      if (!allowed.includes(label)) problems.push(`${metric} has no label ${label} (it has: ${allowed.join(", ")})`);
    }
  }
  for (const label of use.groupingLabels) {
    if (!present.has(label)) problems.push(`grouping label ${label} is on no metric of the expression`);
  }
  return problems;
}
