/**
 * How a test stack is marked, in the stack's tags (set through `pulumi:tags` in its stack file, readable with
 * `pulumi stack tag ls` without running the program) and on its cloud resources: `coturn:ephemeral` holds the time to
 * live, `coturn:expires-at` the moment it ends, in ISO 8601 with a time zone.
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

/** The stack tags that mark a test stack. */
export function ephemeralStackTags(ttl: Duration, expiresAt: string): Record<string, string> {
  return { [EPHEMERAL_TAG]: ttl.text, [EXPIRES_AT_TAG]: expiresAt };
}

/** What a stack's tags say about it. Only `ephemeral` may ever be destroyed by the tools. */
export type EphemeralMark =
  | { readonly kind: "not-ephemeral" }
  | { readonly kind: "ephemeral"; readonly ttl: Duration; readonly expiresAt: Date }
  /** Marked, but the marker or the expiry cannot be read: never destroyed on its expiry, reported instead. */
  | { readonly kind: "unreadable"; readonly ttl?: Duration; readonly problem: string };

/** Reads the marker and expiry from a stack's tags. */
export function readEphemeralMark(tags: Readonly<Record<string, string>>): EphemeralMark {
  const marker = tags[EPHEMERAL_TAG];
  if (marker === undefined || marker === "false") return { kind: "not-ephemeral" };
  const ttl = parseDuration(marker);
  if ("problem" in ttl) return { kind: "unreadable", problem: `tag ${EPHEMERAL_TAG}=${JSON.stringify(marker)} ${ttl.problem}` };
  const expiry = tags[EXPIRES_AT_TAG];
  if (expiry === undefined) return { kind: "unreadable", ttl, problem: `tag ${EXPIRES_AT_TAG} is missing` };
  const expiresAt = parseExpiry(expiry);
  if ("problem" in expiresAt) return { kind: "unreadable", ttl, problem: `tag ${EXPIRES_AT_TAG}=${JSON.stringify(expiry)} ${expiresAt.problem}` };
  return { kind: "ephemeral", ttl, expiresAt };
}
