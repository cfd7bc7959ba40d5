/**
 * How long the TURN credentials of a stack may live: the bounds of `coturn:maxCredentialTtl`, which the minting
 * library (`src/credentials/turnRest.ts`) also enforces. No imports at all, so apps that use that library pull in
 * nothing of the stack's config with it.
 */

/** A day: longer-lived credentials defeat the point of expiring them (they leak with the app's network logs). */
export const MAX_CREDENTIAL_TTL_SECONDS = 24 * 60 * 60;
/** The shortest credential lifetime a stack may allow. */
export const MIN_CREDENTIAL_TTL_SECONDS = 60;
