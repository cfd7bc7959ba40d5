/**
 * How a test stack is marked, in the stack's tags (set through `pulumi:tags` in its stack file, readable with
 * `pulumi stack tag ls` without running the program) and on its cloud resources: `coturn:ephemeral` holds the time to
 * live, `coturn:expires-at` the moment it ends, in ISO 8601 with a time zone. These are facts of a stack's config:
 * validation checks them, and the ephemeral layer (`src/ephemeral`) reads and writes them from here. The time to live
 * a test stack may have is here too, since `coturn:ephemeral` and its tag hold the same text.
 */
import { parseDuration, type Duration } from "./duration";

/** Stack tag and resource tag holding the time to live; its presence marks the stack as a test stack. */
export const EPHEMERAL_TAG = "coturn:ephemeral";
/** Stack tag and resource tag holding the expiry. */
export const EXPIRES_AT_TAG = "coturn:expires-at";
/** The stack config key whose value Pulumi turns into stack tags at every `pulumi up`. */
export const PULUMI_TAGS_KEY = "pulumi:tags";

/** `2026-11-22T18:00:00Z`, `2026-11-22T19:00:00+01:00`, `2026-11-22T18:00:00.000Z`; the zone is required. */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))$/i;

/**
 * Parses an expiry: ISO 8601 date and time with `Z` or an offset. A time without a zone is refused rather than read
 * in this machine's zone, which would move the expiry by hours between a laptop and CI.
 */
export function parseExpiry(text: string): Date | { problem: string } {
  const match = TIMESTAMP.exec(text.trim());
  const example = "e.g. 2026-11-22T18:00:00Z or 2026-11-22T19:00:00+01:00";
  if (!match) {
    const zoneless = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text.trim());
    return {
      problem: zoneless
        ? `has no time zone, so it would mean a different moment on each machine: add Z (UTC) or an offset, ${example}`
        : `is not an ISO 8601 date and time with a time zone, ${example}`,
    };
  }
  const [, year, month, day, hour, minute, second = "0", , offsetHours = "0", offsetMinutes = "0"] = match;
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  if (
    Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > daysInMonth ||
    Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59 || Number(offsetHours) > 23 || Number(offsetMinutes) > 59
  ) {
    return { problem: `is not a real date and time, ${example}` };
  }
  return new Date(Date.parse(text.trim()));
}

/** An expiry as written into tags: UTC, whole seconds (`2026-11-22T18:00:00Z`). */
export function formatExpiry(moment: Date): string {
  return `${moment.toISOString().slice(0, 19)}Z`;
}

/** The expiry of a stack created at `now` with time to live `ttl`. */
export function expiryAfter(now: Date, ttl: Duration): string {
  return formatExpiry(new Date(now.getTime() + ttl.milliseconds));
}

/** Shortest and longest time to live of a test stack: a deploy takes minutes; a month is no longer a test. */
export const EPHEMERAL_TTL_BOUNDS = { min: parseDurationOrThrow("30m"), max: parseDurationOrThrow("30d") } as const;

function parseDurationOrThrow(text: string): Duration {
  const parsed = parseDuration(text);
  if ("problem" in parsed) throw new Error(`unreachable: ${text} ${parsed.problem}`);
  return parsed;
}

/** Why `value` is not a test stack's time to live, or undefined when it is one ("false" means not a test stack). */
export function ephemeralTimeToLiveProblem(value: string): string | undefined {
  if (value === "false") return undefined;
  if (value === "true") return `needs a time to live instead of true, e.g. "4h": the stack is destroyed once it has passed`;
  const ttl = parseDuration(value);
  if ("problem" in ttl) return ttl.problem;
  const { min, max } = EPHEMERAL_TTL_BOUNDS;
  if (ttl.milliseconds < min.milliseconds) return `is shorter than ${min.text}: a test stack could expire while it is still being deployed and probed`;
  if (ttl.milliseconds > max.milliseconds) return `is longer than ${max.text}: a stack that lives that long is not a test stack. Unset coturn:ephemeral`;
  return undefined;
}
