/**
 * Reads `stacks/Pulumi.<stack>.yaml` without the Pulumi CLI and turns it into the same raw config a Pulumi program
 * receives, so `npm run render` and the tests validate and render exactly what `pulumi up` would.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { openPassphraseSecrets, type PassphraseCrypter } from "./passphraseSecrets";
import type { RawStackConfig } from "./rawStackConfig";

/** The folder holding the stack files (`stackConfigDir` in Pulumi.yaml). */
export const STACKS_DIR = join(__dirname, "..", "..", "stacks");

/** Top-level keys the Pulumi CLI accepts in a stack file. */
export const STACK_FILE_KEYS = ["secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment"] as const;

/** How `secure:` values are handled when reading a stack file. */
export type SecretHandling =
  | { readonly mode: "placeholder" }
  | { readonly mode: "reveal"; readonly passphrase: string | undefined };

/** A stack file that cannot be read as Pulumi would read it. */
export class StackFileError extends Error {
  /** Builds the error for `file`. */
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "StackFileError";
  }
}

/** The text that stands for a secret in rendered previews. */
export function secretPlaceholder(key: string): string {
  return `<secret ${key}>`;
}

/** Path of a stack's file. */
export function stackFilePath(stack: string, stacksDir: string = STACKS_DIR): string {
  return join(stacksDir, `Pulumi.${stack}.yaml`);
}

/** Reads and checks a stack file, returning Pulumi's raw config form (text values, secret keys marked). */
export function readStackFile(stack: string, secrets: SecretHandling, stacksDir: string = STACKS_DIR): RawStackConfig {
  const file = stackFilePath(stack, stacksDir);
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) {
    throw new StackFileError(file, `"${stack}" is not a valid stack name (letters, digits, - _ . only)`);
  }
  if (!existsSync(file)) {
    throw new StackFileError(file, `no such stack file. Create the stack with: pulumi stack init ${stack}`);
  }
  let document: unknown;
  try {
    document = parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new StackFileError(file, `is not valid YAML: ${yamlProblemWithoutExcerpt(error)}`);
  }
  const top = (document ?? {}) as Record<string, unknown>;
  if (typeof top !== "object" || Array.isArray(top)) throw new StackFileError(file, "must be a YAML mapping");
  const unknownTop = Object.keys(top).filter((k) => !(STACK_FILE_KEYS as readonly string[]).includes(k));
  if (unknownTop.length > 0) {
    throw new StackFileError(
      file,
      `unknown top-level key(s) ${unknownTop.map((k) => `"${k}"`).join(", ")}; a stack file may hold only ${STACK_FILE_KEYS.join(", ")}. Put settings under config: as coturn:<key>`,
    );
  }
  const config = (top.config ?? {}) as Record<string, unknown>;
  if (typeof config !== "object" || Array.isArray(config)) throw new StackFileError(file, "config: must be a mapping of namespace:key to values");

  let crypter: PassphraseCrypter | undefined;
  const openSecrets = (): PassphraseCrypter => {
    if (crypter) return crypter;
    if (secrets.mode !== "reveal") throw new Error("unreachable: secrets are only opened when revealing");
    const salt = top.encryptionsalt;
    const provider = typeof top.secretsprovider === "string" ? top.secretsprovider : undefined;
    if (typeof salt !== "string" || (provider !== undefined && !provider.startsWith("passphrase"))) {
      throw new StackFileError(
        file,
        `its secrets are encrypted by ${provider ?? "the Pulumi Cloud backend"}, which only the Pulumi CLI can open. ` +
          `Render without --reveal-secrets, or inspect them with: pulumi config --show-secrets --stack ${stack}`,
      );
    }
    if (secrets.passphrase === undefined) {
      throw new StackFileError(file, "reading its secrets needs the stack's passphrase in PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)");
    }
    try {
      crypter = openPassphraseSecrets(secrets.passphrase, salt);
    } catch (error) {
      throw new StackFileError(file, `cannot open its secrets: ${(error as Error).message} (PULUMI_CONFIG_PASSPHRASE)`);
    }
    return crypter;
  };

  const values: Record<string, string> = {};
  const secretKeys = new Set<string>();
  const opaqueKeys = new Set<string>();
  for (const [key, value] of Object.entries(config)) {
    if (!/^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$/.test(key)) {
      throw new StackFileError(file, `config key "${key}" must be namespace:name, e.g. coturn:domain`);
    }
    let hasSecret = false;
    const resolve = (node: unknown, path: string): unknown => {
      if (isSecure(node)) {
        hasSecret = true;
        if (secrets.mode === "placeholder") return secretPlaceholder(path);
        try {
          return openSecrets().decrypt(node.secure);
        } catch (error) {
          if (error instanceof StackFileError) throw error;
          throw new StackFileError(file, `cannot decrypt ${path}: ${(error as Error).message}`);
        }
      }
      if (Array.isArray(node)) return node.map((item, i) => resolve(item, `${path}[${i}]`));
      if (node !== null && typeof node === "object") {
        return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolve(v, `${path}.${k}`)]));
      }
      return node;
    };
    const resolved = resolve(value, key);
    values[key] = typeof resolved === "object" && resolved !== null ? JSON.stringify(resolved) : String(resolved ?? "");
    if (hasSecret) {
      secretKeys.add(key);
      if (secrets.mode === "placeholder") opaqueKeys.add(key);
    }
  }
  return { stack, values, secretKeys, opaqueKeys };
}

/**
 * The YAML parser's message without the excerpt of the file it appends (the lines around the mistake, which may hold
 * a plaintext secret or a pasted private key): what is wrong and where, e.g. `Missing closing "quote at line 4,
 * column 1`.
 */
export function yamlProblemWithoutExcerpt(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split("\n")[0] ?? "").replace(/:\s*$/, "");
}

function isSecure(node: unknown): node is { secure: string } {
  return (
    node !== null &&
    typeof node === "object" &&
    Object.keys(node).length === 1 &&
    typeof (node as { secure?: unknown }).secure === "string"
  );
}
