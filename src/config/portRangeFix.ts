/**
 * The fix to suggest for a relay port range that is not valid: the valid range nearest to what was typed, so a
 * mistyped bound is corrected (`49152-6553` -> `49152-65535`), a reversed range swapped, a bound outside 1024-65535
 * moved to the limit, and never a far wider range than the user meant.
 */

/** The lowest unprivileged port. */
export const LOWEST_RELAY_PORT = 1024;
/** The highest port there is. */
export const HIGHEST_RELAY_PORT = 65535;
/** The start of the IANA dynamic range, the usual first relay port. */
const USUAL_FIRST_PORT = 49152;

/** A port range, `min` below `max`. */
export interface PortBounds {
  readonly min: number;
  readonly max: number;
}

/** True when `min-max` is a range this project accepts. */
export function isValidRelayRange({ min, max }: PortBounds): boolean {
  return min >= LOWEST_RELAY_PORT && max <= HIGHEST_RELAY_PORT && min < max;
}

/** Every number that one more digit, anywhere in `port`, makes. */
function withOneMoreDigit(port: number): number[] {
  const text = String(port);
  const made = new Set<number>();
  for (let at = 0; at <= text.length; at++) {
    for (let digit = 0; digit <= 9; digit++) made.add(Number(text.slice(0, at) + String(digit) + text.slice(at)));
  }
  return [...made];
}

/** Every number that one digit fewer in `port` makes. */
function withOneDigitLess(port: number): number[] {
  const text = String(port);
  return [...new Set(Array.from({ length: text.length }, (_, at) => Number(text.slice(0, at) + text.slice(at + 1))))];
}

/** Every number that doubling one of `port`'s digits makes (`6000` -> `60000`), the commonest dropped key. */
function withOneDigitDoubled(port: number): number[] {
  const text = String(port);
  return [...new Set(Array.from({ length: text.length }, (_, at) => Number(text.slice(0, at + 1) + text.slice(at))))];
}

/** A reversed range's likely meaning: a start with a digit too many, its end missing a digit, else the ends swapped. */
function fixReversed({ min, max }: PortBounds): string | undefined {
  if (min > HIGHEST_RELAY_PORT) {
    const shorter = withOneDigitLess(min).filter((candidate) => isValidRelayRange({ min: candidate, max }));
    const restored = shorter.includes(USUAL_FIRST_PORT) ? USUAL_FIRST_PORT : shorter.sort((a, b) => b - a)[0];
    if (restored !== undefined) return `starts above its end: ${min} looks like ${restored} with a digit too many. Write "${restored}-${max}"`;
  }
  if (String(max).length < String(min).length) {
    const fits = (candidate: number): boolean => isValidRelayRange({ min, max: candidate });
    const longer = withOneMoreDigit(max).filter(fits);
    const restored = longer.includes(HIGHEST_RELAY_PORT) ? HIGHEST_RELAY_PORT : withOneDigitDoubled(max).filter(fits).sort((a, b) => a - b)[0];
    if (restored !== undefined) return `ends below its start: ${max} looks like ${restored} with a digit missing. Write "${min}-${restored}"`;
  }
  return isValidRelayRange({ min: max, max: min }) ? `is reversed. Write the lower port first: "${max}-${min}"` : undefined;
}

/** The nearest valid start for a range starting below 1024: a lost digit put back, else 1024. */
function fixLowStart(min: number, max: number): number {
  const restored = withOneMoreDigit(min).filter((p) => p === LOWEST_RELAY_PORT || p === USUAL_FIRST_PORT);
  return restored.find((p) => p < max) ?? LOWEST_RELAY_PORT;
}

/**
 * What is wrong with `min-max` and the nearest valid range to write instead, or undefined when the range is valid.
 * The fix keeps the bound that was right and corrects only the other one.
 */
export function portRangeFix(bounds: PortBounds): string | undefined {
  const { min, max } = bounds;
  if (isValidRelayRange(bounds)) return undefined;
  if (min === max) return `is empty (one port relays one allocation). Use a range such as "${USUAL_FIRST_PORT}-${HIGHEST_RELAY_PORT}"`;
  if (min > max) {
    const fix = fixReversed(bounds);
    if (fix !== undefined) return fix;
  } else {
    // A start below 1024 gets its lost digit back or moves up to 1024; an end above 65535 moves down to 65535.
    const fixed = { min: min < LOWEST_RELAY_PORT ? fixLowStart(min, max) : min, max: Math.min(max, HIGHEST_RELAY_PORT) };
    if (isValidRelayRange(fixed)) {
      const why =
        min < LOWEST_RELAY_PORT && max > HIGHEST_RELAY_PORT
          ? "starts below 1024 (ports below 1024 are privileged) and ends above 65535 (the highest port)"
          : min < LOWEST_RELAY_PORT
            ? "starts below 1024 (ports below 1024 are privileged)"
            : "ends above 65535, the highest port";
      return `${why}. Write "${fixed.min}-${fixed.max}"`;
    }
  }
  return `is outside ${LOWEST_RELAY_PORT}-${HIGHEST_RELAY_PORT} (ports below ${LOWEST_RELAY_PORT} are privileged, above ${HIGHEST_RELAY_PORT} do not exist). Use e.g. "${USUAL_FIRST_PORT}-${HIGHEST_RELAY_PORT}"`;
}
