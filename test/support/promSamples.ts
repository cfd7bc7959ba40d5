/**
 * Reads samples out of Prometheus text format for assertions: the value of one series, or the sum of a family's
 * series that carry the given labels. Only what the monitoring tests need (no escapes in label values are used).
 */

/** One sample line. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function samples(text: string): Sample[] {
  const found: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[pair[1]] = pair[2];
    found.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return found;
}

/** The sum of the samples of `name` whose labels include `labels` (0 when there is none). */
export function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  return samples(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The metric family names present (histogram series folded into their family). */
export function familyNames(text: string): Set<string> {
  return new Set(samples(text).map((s) => s.name.replace(/_(bucket|sum|count)$/, (suffix) => (text.includes(`# TYPE ${s.name.slice(0, -suffix.length)} histogram`) ? "" : suffix))));
}
