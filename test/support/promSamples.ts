/**
 * Reads figures out of a metrics page for assertions, with the parser `npm run status` uses (src/status/exposition.ts),
 * so the tests read the pages the way the operator's command does.
 */
import { parseExposition, sumOf } from "../../src/status/exposition";

/** The sum of the samples of `name` whose labels include `labels` (0 when there is none). */
export function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  return sumOf(parseExposition(text), name, labels) ?? 0;
}

/** The metric family names on the page. */
export function familyNames(text: string): Set<string> {
  return new Set(parseExposition(text).families.keys());
}
