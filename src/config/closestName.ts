/**
 * The known name closest to a mistyped one, for "did you mean" hints: edit distance (with swapped neighbours as one
 * edit), case-insensitive, with a limit so a name far from every known one gets no suggestion rather than a random one.
 */

/** Edits (insertions, deletions, substitutions, swaps of two neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  // Optimal string alignment: Levenshtein plus adjacent transpositions, so "tsl" is one edit from "tls".
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * How many edits a typo of `name` may have: 1 for a name of up to 3 characters (two edits rewrite "4k" into "sd",
 * which is no typo of it), else 2, or a third of the name's length for long names.
 */
export function typoLimit(name: string): number {
  return name.length <= 3 ? 1 : Math.max(2, Math.floor(name.length / 3));
}

/**
 * The known name nearest to `name`, or undefined when even the nearest is too far to be a typo of it (see
 * `typoLimit`). A name differing only in case is the nearest. Ties go to the earlier name in `known`.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    if (candidate === name) continue;
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  return best && best.distance <= typoLimit(name) ? best.name : undefined;
}
