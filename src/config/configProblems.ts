/**
 * What validation reports: one `ConfigProblem` per thing wrong (the full key, the value as shown, what to do), and
 * `StackConfigError`, which lists them all. Values are shown through `showValue`, which never reveals a secret.
 */
import { SECRET_KEYS, type ConfigKey } from "./schema";
import { fullKey } from "./rawStackConfig";

/** One thing wrong with the config. */
export interface ConfigProblem {
  /** Full key, e.g. `coturn:relayPorts` or `coturn:quotas.allocationsPerUser`. */
  readonly key: string;
  /** The offending value as shown to the user (secrets are never shown), or undefined when the key is unset. */
  readonly shownValue: string | undefined;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

/** Thrown when stack config is invalid; its message lists every problem, one per line. */
export class StackConfigError extends Error {
  /** The individual problems: unknown keys first, then each key's own checks, then rules across keys. */
  readonly problems: readonly ConfigProblem[];

  /** Builds the error and its message from the problems found in stack `stack`. */
  constructor(stack: string, problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${formatProblem(p)}`);
    super(
      `Stack config of "${stack}" is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}); ` +
        `nothing was created or changed:\n${lines.join("\n")}`,
    );
    this.name = "StackConfigError";
    this.problems = problems;
  }
}

/** Formats one problem as `key = value: message`. */
export function formatProblem(p: ConfigProblem): string {
  return p.shownValue === undefined ? `${p.key}: ${p.message}` : `${p.key} = ${p.shownValue}: ${p.message}`;
}

/** A problem with `coturn:<key>` (a path such as `ssh.allowedCidrs[0]` is fine), its value shown as JSON, if any. */
export function keyProblem(key: string, value: unknown, message: string): ConfigProblem {
  return { key: fullKey(key), shownValue: value === undefined ? undefined : JSON.stringify(value), message };
}

/** An `add(key, value, message)` that puts `keyProblem(key, value, message)` on `problems`. */
export function problemAdder(problems: ConfigProblem[]): (key: string, value: unknown, message: string) => void {
  return (key, value, message) => {
    problems.push(keyProblem(key, value, message));
  };
}

/** Shows a value for an error message without ever revealing a secret. */
export function showValue(key: ConfigKey, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (SECRET_KEYS.includes(key)) {
    return typeof value === "string" ? `(secret, ${value.length} characters)` : "(secret)";
  }
  return JSON.stringify(value);
}

/** The stack file a user edits for a stack (local stacks have no `pulumi config` of their own). */
export function stackFileName(stack: string): string {
  return `stacks/Pulumi.${stack}.yaml`;
}
