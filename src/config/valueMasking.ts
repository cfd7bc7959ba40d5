/**
 * How a config value is shown in an error, a warning or a log line without revealing anything secret: key material
 * (PEM blocks, OpenSSH and PuTTY private keys), values of secret keys, token-like strings, and all but very short
 * values of fields whose name looks secret are replaced by their kind and length, e.g. `(a PEM private key, 1704
 * characters)`. Everything else is shown as JSON, as before.
 */

/** Values of a secret-looking field up to this length are shown (`"yes"`, `"true"`); longer ones are hidden. */
export const MAX_SHOWN_FROM_SECRET_LOOKING_FIELD = 4;

/** Secrets shorter than this are not searched for in messages (a 3-letter "secret" would blank ordinary words). */
export const MIN_REDACTED_SECRET_LENGTH = 6;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----/;
const PUTTY_KEY = /^PuTTY-User-Key-File-\d+:/m;
/** Long unbroken base64 / base64url text with upper and lower case and digits: a generated secret or API token. */
const TOKEN_LIKE = /^[A-Za-z0-9+/=_-]{24,}$/;
const SECRET_LOOKING_NAME = /secret|passw|passphrase|token|private|credential|apikey|api_key|(?<!public)key/i;

/** True when a field's name suggests its value is secret (`password`, `apiToken`, `privateKey`; not `publicKeys`). */
export function isSecretLookingName(name: string): boolean {
  return SECRET_LOOKING_NAME.test(name.replace(/[-_\s]/g, ""));
}

/** What kind of key material or secret a text is, or undefined when it looks like an ordinary value. */
export function secretKindOf(text: string): string | undefined {
  const pem = PEM_BLOCK.exec(text);
  if (pem) {
    const label = pem[1];
    if (label === "OPENSSH PRIVATE KEY") return "an OpenSSH private key";
    if (label.includes("PRIVATE KEY")) return "a PEM private key";
    return `a PEM ${label.toLowerCase()}`;
  }
  if (PUTTY_KEY.test(text)) return "a PuTTY private key";
  if (TOKEN_LIKE.test(text) && /[A-Z]/.test(text) && /[a-z]/.test(text) && /\d/.test(text)) return "text that looks like a secret or token";
  return undefined;
}

/** `(kind, N characters)`. */
export function maskedText(kind: string, length: number): string {
  return `(${kind}, ${length} character${length === 1 ? "" : "s"})`;
}

/** How a config value is known to be secret before it is shown. */
export interface MaskingContext {
  /** The value belongs to a secret key (`coturn:authSecret`…): nothing of it is shown. */
  readonly secretKey: boolean;
  /** The name of the field holding the value (the last part of its path), if any. */
  readonly fieldName?: string;
}

/** A string as it may be shown: itself (as JSON), or its kind and length. */
function shownString(text: string, context: MaskingContext, fieldName: string | undefined): string {
  if (context.secretKey) return maskedText("secret", text.length);
  const kind = secretKindOf(text);
  if (kind !== undefined) return maskedText(kind, text.length);
  const name = fieldName ?? context.fieldName;
  if (name !== undefined && isSecretLookingName(name) && text.length > MAX_SHOWN_FROM_SECRET_LOOKING_FIELD) {
    return maskedText(`hidden: "${name}" looks like a secret's name`, text.length);
  }
  return JSON.stringify(text);
}

/**
 * A value as shown in a message: JSON, with every string in it that is (or may be) secret replaced by its kind and
 * length. Undefined stays undefined (an unset key shows no value).
 */
export function maskedValue(value: unknown, context: MaskingContext): string | undefined {
  if (value === undefined) return undefined;
  if (context.secretKey && typeof value !== "string") return "(secret)";
  const render = (node: unknown, fieldName: string | undefined): string => {
    if (typeof node === "string") return shownString(node, context, fieldName);
    if (Array.isArray(node)) return `[${node.map((item) => render(item, fieldName)).join(",")}]`;
    if (node !== null && typeof node === "object") {
      const fields = Object.entries(node as Record<string, unknown>).filter(([, v]) => v !== undefined);
      return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${render(v, k)}`).join(",")}}`;
    }
    return JSON.stringify(node) ?? String(node);
  };
  return render(value, undefined);
}

/**
 * `text` with every PEM block, and every secret of `secretsByValue` (plaintext value -> the key that holds it), replaced
 * by its kind and length, quoted or not: the last guard for messages that quote a value inside their own words.
 */
export function redactedText(text: string, secretsByValue: ReadonlyMap<string, string>): string {
  let redacted = text.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?(-----END \1-----|$)/g, (block) => maskedText(secretKindOf(block) ?? "a PEM block", block.length));
  for (const [secret, key] of secretsByValue) {
    if (secret.length < MIN_REDACTED_SECRET_LENGTH) continue;
    const masked = maskedText(`the value of ${key}`, secret.length);
    redacted = redacted.split(JSON.stringify(secret)).join(masked).split(secret).join(masked);
  }
  return redacted;
}
