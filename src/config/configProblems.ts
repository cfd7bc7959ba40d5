/**
 * What validation reports: one `ConfigProblem` per thing wrong (the full key, the value as shown, what to do), and
 * `StackConfigError`, which lists them all. Values are shown through `showValue` / `shownValueAt`, which never reveal
 * a secret or key material (`valueMasking.ts`), and `withoutSecrets` is the last pass over every finished problem.
 */
import { CONFIG_NAMESPACE, SECRET_KEYS, type ConfigKey } from "./schema";
import { fullKey, type RawStackConfig } from "./rawStackConfig";
import { maskedValue, redactedText } from "./valueMasking";

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

/**
 * A problem with `coturn:<key>` (a path such as `ssh.allowedCidrs[0]` is fine), its value shown as `shownValueAt`
 * shows it.
 */
export function keyProblem(key: string, value: unknown, message: string): ConfigProblem {
  return { key: fullKey(key), shownValue: shownValueAt(key, value), message };
}

/**
 * Shows the value at a path of a `coturn:` key (`tlsPrivateKey`, `tags.apiToken`, `regions[0].stack`) without
 * revealing a secret: nothing of a secret key's value, and no key material, token-like text or long value of a
 * secret-looking field anywhere. Undefined when the value is unset.
 */
export function shownValueAt(path: string, value: unknown): string | undefined {
  const top = /^[^.[]+/.exec(path)?.[0] ?? path;
  const fieldName = /([^.[\]]+)\]?$/.exec(path.replace(/\[\d+\]$/, ""))?.[1];
  return maskedValue(value, {
    secretKey: (SECRET_KEYS as readonly string[]).includes(top),
    ...(fieldName === undefined || fieldName === top ? {} : { fieldName }),
  });
}

/** An `add(key, value, message)` that puts `keyProblem(key, value, message)` on `problems`. */
export function problemAdder(problems: ConfigProblem[]): (key: string, value: unknown, message: string) => void {
  return (key, value, message) => {
    problems.push(keyProblem(key, value, message));
  };
}

/** Shows a key's whole value for an error message without ever revealing a secret (see `shownValueAt`). */
export function showValue(key: ConfigKey, value: unknown): string | undefined {
  return shownValueAt(key, value);
}

/**
 * The plaintext secrets of a stack's raw config, each mapped to the key that holds it: the values of secret keys and
 * of keys stored with `--secret` (each item of a list of secrets on its own).
 */
export function secretValuesOf(raw: RawStackConfig): Map<string, string> {
  const secrets = new Map<string, string>();
  const prefix = `${CONFIG_NAMESPACE}:`;
  for (const [name, text] of Object.entries(raw.values)) {
    const secretKey = name.startsWith(prefix) && (SECRET_KEYS as readonly string[]).includes(name.slice(prefix.length));
    if (!secretKey && !raw.secretKeys.has(name)) continue;
    if (raw.opaqueKeys?.has(name) ?? false) continue;
    secrets.set(text, name);
    for (const item of jsonStrings(text)) secrets.set(item, name);
  }
  return secrets;
}

/** The strings inside a JSON list or object text, or none when it is not JSON. */
function jsonStrings(text: string): string[] {
  const strings = (node: unknown): string[] =>
    typeof node === "string" ? [node] : node !== null && typeof node === "object" ? Object.values(node).flatMap(strings) : [];
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" ? strings(parsed) : [];
  } catch {
    return [];
  }
}

/**
 * The problems with every secret of the stack and every PEM block that a rule quoted in its shown value or its
 * message replaced by its kind and length: the last pass before problems reach the user.
 */
export function withoutSecrets(problems: readonly ConfigProblem[], raw: RawStackConfig): ConfigProblem[] {
  const secrets = secretValuesOf(raw);
  return problems.map((p) => ({
    key: p.key,
    shownValue: p.shownValue === undefined ? undefined : redactedText(p.shownValue, secrets),
    message: redactedText(p.message, secrets),
  }));
}

/** The stack file a user edits for a stack (local stacks have no `pulumi config` of their own). */
export function stackFileName(stack: string): string {
  return `stacks/Pulumi.${stack}.yaml`;
}
