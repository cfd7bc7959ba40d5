/**
 * A test stack's mark as the ephemeral tools use it: the tags `npm run test-stack` writes, and what
 * `npm run destroy-test-stacks` reads from a listed stack's tags. The tag names and the expiry format are the stack
 * config's (`src/config/stackTags.ts`).
 */
import { parseDuration, type Duration } from "../config/duration";
import { EPHEMERAL_TAG, EXPIRES_AT_TAG, parseExpiry } from "../config/stackTags";

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
