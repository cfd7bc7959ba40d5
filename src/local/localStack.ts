/**
 * A local stack's config for one run of `npm run local`: the stack file read as `npm run render` reads it, plus a
 * fresh auth secret for this run (never stored, never printed), validated by the same rules as a cloud stack.
 */
import { randomBytes } from "node:crypto";
import { readStackFile } from "../config/stackFile";
import type { LocalStackConfig } from "../config/stackConfig";
import { validateLocalStackConfig } from "../config/validate";
import { StackConfigError } from "../config/configProblems";
import { isLocalStack, type RawStackConfig } from "../config/rawStackConfig";

/** The config key the run's secret is added as. */
const AUTH_SECRET_KEY = "coturn:authSecret";

/** Characters in a run's secret: 36 random bytes in base64url (letters, digits, `-`, `_`). */
export const LOCAL_SECRET_LENGTH = 48;

/** A fresh secret for one run: 288 random bits, in characters coturn's config file and validation accept. */
export function newLocalAuthSecret(): string {
  return randomBytes((LOCAL_SECRET_LENGTH / 4) * 3).toString("base64url");
}

/**
 * Adds the run's secret to a local stack's raw config, as a secret key, as `pulumi config set --secret` would.
 * Throws `StackConfigError` when the stack file stores a secret itself: a stored secret would outlive the run.
 */
export function withLocalAuthSecret(raw: RawStackConfig, secret: string): RawStackConfig {
  if (raw.values[AUTH_SECRET_KEY] !== undefined) {
    throw new StackConfigError(raw.stack, [
      {
        key: AUTH_SECRET_KEY,
        shownValue: "(not shown)",
        message:
          `is set in stacks/Pulumi.${raw.stack}.yaml, but \`npm run local\` makes a fresh secret on each run and never stores it. ` +
          `Remove it from the stack file`,
      },
    ]);
  }
  return {
    ...raw,
    values: { ...raw.values, [AUTH_SECRET_KEY]: secret },
    secretKeys: new Set([...raw.secretKeys, AUTH_SECRET_KEY]),
  };
}

/**
 * Reads and validates a local stack from stacks/ with `secret` as its auth secret. Throws `StackFileError` or
 * `StackConfigError` (a cloud stack is one of its problems).
 */
export function loadLocalStack(stack: string, secret: string, stacksDir?: string): LocalStackConfig {
  const raw = readStackFile(stack, { mode: "placeholder" }, stacksDir);
  // A cloud stack keeps its own (encrypted) secret; validation then reports it as a cloud stack, nothing else.
  return validateLocalStackConfig(isLocalStack(raw) ? withLocalAuthSecret(raw, secret) : raw);
}
