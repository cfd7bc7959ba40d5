/**
 * A test stack (`coturn:ephemeral`) and its stack tags: a test stack must carry its marker and expiry there, where
 * `npm run destroy-test-stacks` reads them, and a lasting stack must not; the validated lifetime is read back from them.
 */
import type { ParsedConfigKeys } from "./schema";
import type { EphemeralStack } from "./stackConfig";
import { parseDuration } from "./duration";
import { EPHEMERAL_TAG, EXPIRES_AT_TAG, PULUMI_TAGS_KEY, expiryAfter, formatExpiry, parseExpiry } from "./stackTags";
import type { ConfigProblem } from "./configProblems";
import { fullKey, type RawStackConfig } from "./rawStackConfig";
import { isEphemeral } from "./derivedSettings";

/** The stack tags from `pulumi:tags` (a mapping of names to text), or what is wrong with them. */
function stackTagsOf(raw: RawStackConfig): Record<string, string> | string {
  const text = raw.values[PULUMI_TAGS_KEY];
  if (text === undefined) return {};
  let tags: unknown;
  try {
    tags = JSON.parse(text);
  } catch {
    return "is not a mapping of tag names to values";
  }
  if (tags === null || typeof tags !== "object" || Array.isArray(tags)) return "is not a mapping of tag names to values";
  return Object.fromEntries(Object.entries(tags).map(([name, value]) => [name, String(value)]));
}

/**
 * A test stack must carry its marker and expiry in its stack tags, which is where `npm run destroy-test-stacks` reads
 * them; a lasting stack must not carry them, or the tool would destroy it.
 */
export function ephemeralProblems(c: Partial<ParsedConfigKeys>, raw: RawStackConfig): ConfigProblem[] {
  const tags = stackTagsOf(raw);
  const shown = raw.values[PULUMI_TAGS_KEY];
  if (typeof tags === "string") return [{ key: PULUMI_TAGS_KEY, shownValue: shown, message: tags }];
  const marker = tags[EPHEMERAL_TAG];
  const expiry = tags[EXPIRES_AT_TAG];
  if (!isEphemeral(c)) {
    if (c.ephemeral === undefined && raw.values[fullKey("ephemeral")] !== undefined) return []; // its own problem is reported
    if ((marker === undefined || marker === "false") && expiry === undefined) return [];
    return [
      {
        key: PULUMI_TAGS_KEY,
        shownValue: shown,
        message:
          `marks the stack as a test stack (${EPHEMERAL_TAG}/${EXPIRES_AT_TAG}), which npm run destroy-test-stacks would destroy, ` +
          `but ${fullKey("ephemeral")} is not set. Set ${fullKey("ephemeral")} to its time to live, or remove those tags`,
      },
    ];
  }
  const ttl = parseDuration(c.ephemeral);
  if ("problem" in ttl) return [];
  const now = new Date();
  const fix =
    `Put them in stacks/Pulumi.${raw.stack}.yaml under config: → pulumi:tags: {"${EPHEMERAL_TAG}": "${ttl.text}", ` +
    `"${EXPIRES_AT_TAG}": "${expiryAfter(now, ttl)}"} (now + ${ttl.text}; npm run test-stack -- up writes them for you)`;
  if (marker !== ttl.text || expiry === undefined) {
    return [
      {
        key: PULUMI_TAGS_KEY,
        shownValue: shown,
        message:
          `must hold the test stack's marker and expiry, the only place npm run destroy-test-stacks reads them ` +
          `(${marker === undefined ? `${EPHEMERAL_TAG} is missing` : marker !== ttl.text ? `${EPHEMERAL_TAG} is "${marker}", not "${ttl.text}" as ${fullKey("ephemeral")}` : `${EXPIRES_AT_TAG} is missing`}). ${fix}`,
      },
    ];
  }
  const expiresAt = parseExpiry(expiry);
  if ("problem" in expiresAt) return [{ key: `${PULUMI_TAGS_KEY}.${EXPIRES_AT_TAG}`, shownValue: JSON.stringify(expiry), message: `${expiresAt.problem}. ${fix}` }];
  // A slip of the year would keep a "test" stack for a year; a few minutes of clock skew are fine.
  const latest = now.getTime() + ttl.milliseconds + 10 * 60_000;
  if (expiresAt.getTime() > latest) {
    return [
      {
        key: `${PULUMI_TAGS_KEY}.${EXPIRES_AT_TAG}`,
        shownValue: JSON.stringify(expiry),
        message: `is more than the time to live (${ttl.text}) away. Use an expiry within ${ttl.text} of now, or a longer ${fullKey("ephemeral")}. ${fix}`,
      },
    ];
  }
  return [];
}

/** A validated test stack's lifetime, read back from its tags. */
export function ephemeralStack(raw: RawStackConfig, ttlText: string): EphemeralStack {
  const tags = stackTagsOf(raw);
  const ttl = parseDuration(ttlText);
  const expiresAt = typeof tags === "string" ? undefined : parseExpiry(tags[EXPIRES_AT_TAG] ?? "");
  if ("problem" in ttl || expiresAt === undefined || "problem" in expiresAt) throw new Error("unreachable: the test stack's tags were validated");
  return { timeToLive: ttl.text, expiresAt: formatExpiry(expiresAt) };
}
