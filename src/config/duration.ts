/**
 * Durations as people write them for test stacks: a whole number and one unit, `90m`, `4h`, `2d`, `1w`. Used by the
 * `coturn:ephemeral` time to live and by the `--ttl` and `--older-than` flags, so all three read the same way. Part
 * of the config because `coturn:ephemeral` is written this way; the ephemeral tools import it from here.
 */

/** Milliseconds per unit letter. */
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** A unit letter of a duration. */
export type DurationUnit = keyof typeof UNIT_MS;

/** A parsed duration: the text as written and its length. */
export interface Duration {
  /** As written, e.g. `4h`. */
  readonly text: string;
  /** Length in milliseconds. */
  readonly milliseconds: number;
}

const DURATION = /^(\d{1,6})([mhdw])$/;

/** What a duration looks like, for error messages. */
export const DURATION_EXAMPLES = "a whole number and a unit m, h, d or w, e.g. 90m, 4h, 2d";

/**
 * Parses `text` as a duration, or returns why it is not one (a sentence that fits after "`--flag value` ").
 * Zero is not a duration here: every caller means "some time".
 */
export function parseDuration(text: string): Duration | { problem: string } {
  const match = DURATION.exec(text.trim());
  if (!match) return { problem: `is not a duration: use ${DURATION_EXAMPLES}` };
  const amount = Number(match[1]);
  if (amount === 0) return { problem: `is zero: use a positive duration, ${DURATION_EXAMPLES.replace("a whole number and a unit m, h, d or w, ", "")}` };
  return { text: `${amount}${match[2]}`, milliseconds: amount * UNIT_MS[match[2] as DurationUnit] };
}

/** A length in words people scan quickly: `3h 20m`, `2d 4h`, `45s`. */
export function describeLength(milliseconds: number): string {
  const seconds = Math.round(Math.abs(milliseconds) / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 === 0 ? `${hours}h` : `${hours}h ${minutes % 60}m`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days}d` : `${days}d ${hours % 24}h`;
}
