/**
 * Each key on its own: unknown keys (with the closest known one), keys the stack's kind does not read, secrets stored
 * in plain text, Pulumi's text form decoded, and the key's schema, with zod's issues turned into problems that say
 * what to do. Every key is checked, so one bad key never hides another; the keys that parsed go on to the rules
 * across keys.
 */
import { z } from "zod";
import { CONFIG_NAMESPACE, SECRET_KEYS, configKeySchemas, stackConfigSchema, type ConfigKey, type ParsedConfigKeys } from "./schema";
import { showValue, shownValueAt, stackFileName, type ConfigProblem } from "./configProblems";
import { closestName } from "./closestName";
import { fullKey, type RawStackConfig, type StackKind } from "./rawStackConfig";

/**
 * Keys that only mean something for a VM on a cloud. A local stack may not set them: validation names each one that
 * is set, so a cloud setting copied into a local stack cannot look as if it did something.
 */
export const CLOUD_ONLY_KEYS = [
  "region",
  "availabilityZone",
  "instanceType",
  "image",
  "ssh",
  "monitoring",
  "rateLimits",
  "metricsPassword",
  "tags",
  "ephemeral",
  "rotation",
  "regionDomain",
  "acmeEmail",
  "acmeCa",
  "acmeDnsApiToken",
  "cloudflareZoneId",
  "cloudflareApiToken",
  "publishSharedName",
  "serverCount",
  "capacity",
] as const;

/** Keys a global stack reads; every other key belongs to region stacks and is refused there. */
export const GLOBAL_STACK_KEYS = ["cloud", "domain", "cloudflareZoneId", "cloudflareApiToken", "cloudflareAccountId", "regions", "geoDns"] as const;
/** Keys only a global stack reads; a region or local stack that sets one is told so. */
export const GLOBAL_ONLY_KEYS = ["cloudflareAccountId", "regions", "geoDns"] as const;

/** What checking each key on its own gave: the values that parsed, and the problems found (unknown keys first). */
export interface KeyChecks {
  /** The keys that parsed (or could not be read, being opaque secrets), with their schema's defaults. */
  readonly parsed: Partial<ParsedConfigKeys>;
  /** Unknown keys, then each known key's problems in schema order. */
  readonly problems: ConfigProblem[];
}

/** The outcome for one key: its problems, and its value when it parsed. */
interface KeyOutcome {
  readonly problems: readonly ConfigProblem[];
  readonly parsed?: { readonly value: unknown };
}

const KNOWN_KEYS = Object.keys(configKeySchemas) as ConfigKey[];

/** Checks every `coturn:` key of a stack of kind `kind` on its own. */
export function checkEachKey(raw: RawStackConfig, kind: StackKind): KeyChecks {
  const problems = unknownKeyProblems(raw);
  const parsed: Partial<Record<ConfigKey, unknown>> = {};
  for (const key of KNOWN_KEYS) {
    const outcome = checkKey(raw, kind, key);
    problems.push(...outcome.problems);
    if (outcome.parsed) parsed[key] = outcome.parsed.value;
  }
  return { parsed: parsed as Partial<ParsedConfigKeys>, problems };
}

/** `coturn:` keys the schema does not know, each with the closest known key when there is one. */
function unknownKeyProblems(raw: RawStackConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const prefix = `${CONFIG_NAMESPACE}:`;
  for (const name of Object.keys(raw.values).sort()) {
    if (!name.startsWith(prefix)) continue;
    const bare = name.slice(prefix.length);
    if (!(KNOWN_KEYS as string[]).includes(bare)) {
      const suggestion = closestName(bare, KNOWN_KEYS);
      problems.push({
        key: name,
        shownValue: undefined,
        message:
          `is not a known key${suggestion ? ` (did you mean ${fullKey(suggestion)}?)` : ""}. ` +
          `Remove it with: pulumi config rm ${name}`,
      });
    }
  }
  return problems;
}

/** One known key: where it may be set, how it is stored, and its schema. */
function checkKey(raw: RawStackConfig, kind: StackKind, key: ConfigKey): KeyOutcome {
  const name = fullKey(key);
  const text = raw.values[name];
  const outOfPlace = outOfPlaceProblems(raw, kind, key, text);
  if (outOfPlace !== undefined) return { problems: outOfPlace };
  const problems = plainTextSecretProblems(raw, key, text);
  let input: unknown;
  if (text !== undefined) {
    const decoded = decode(key, text);
    if ("problem" in decoded) return { problems: [...problems, { key: name, shownValue: showValue(key, text), message: decoded.problem }] };
    input = decoded.value;
  }
  const outcome = parseValue(raw, key, input);
  return { ...outcome, problems: [...problems, ...outcome.problems] };
}

/**
 * The problems of a key that this kind of stack does not check as usual, or undefined when it does: a region setting
 * on the global stack, a global setting on a region or local stack, a cloud setting or old secrets on a local stack,
 * and a local stack's run secret when it is missing. Such a key is not parsed.
 */
function outOfPlaceProblems(raw: RawStackConfig, kind: StackKind, key: ConfigKey, text: string | undefined): ConfigProblem[] | undefined {
  const name = fullKey(key);
  const local = kind === "local";
  const misplaced =
    kind === "global"
      ? !(GLOBAL_STACK_KEYS as readonly string[]).includes(key) &&
        "is a region stack setting and means nothing on a global stack (coturn:cloud global), which only points the shared name at region stacks"
      : (GLOBAL_ONLY_KEYS as readonly string[]).includes(key) &&
        "is a setting of the global stack (coturn:cloud global), which puts region stacks behind one name; a region stack ignores it";
  if (misplaced) {
    if (text === undefined) return [];
    const decoded = decode(key, text);
    return [{ key: name, shownValue: showValue(key, "value" in decoded ? decoded.value : text), message: `${misplaced}. Remove it from ${stackFileName(raw.stack)}` }];
  }
  if (local && (CLOUD_ONLY_KEYS as readonly string[]).includes(key)) {
    // Unset is right for a local stack (no "required" region); set is a cloud setting that would do nothing.
    if (text === undefined) return [];
    const decoded = decode(key, text);
    return [
      {
        key: name,
        shownValue: showValue(key, "value" in decoded ? decoded.value : text),
        message:
          `is a cloud setting and means nothing with coturn:cloud "local" (coturn runs on this machine). ` +
          `Remove it from ${stackFileName(raw.stack)}`,
      },
    ];
  }
  if (local && key === "previousAuthSecrets" && text !== undefined) {
    return [
      {
        key: name,
        shownValue: "(secret)",
        message: `is set, but a local stack's secret lives for one run, so there is nothing to rotate. Remove it from ${stackFileName(raw.stack)}`,
      },
    ];
  }
  if (local && key === "authSecret" && text === undefined) {
    return [
      {
        key: name,
        shownValue: undefined,
        message: "is not set: a local stack gets a fresh secret on each run of `npm run local`, which adds it before validating",
      },
    ];
  }
  return undefined;
}

/** A secret key whose value was set without `--secret`. */
function plainTextSecretProblems(raw: RawStackConfig, key: ConfigKey, text: string | undefined): ConfigProblem[] {
  const name = fullKey(key);
  if (text === undefined || !SECRET_KEYS.includes(key) || raw.secretKeys.has(name)) return [];
  return [
    {
      key: name,
      shownValue: "(not shown)",
      message: `is stored in plain text. Set it again encrypted: pulumi config set --secret ${name} <value>`,
    },
  ];
}

/** The key's decoded value through its schema: the parsed value with defaults, or the issues as problems. */
function parseValue(raw: RawStackConfig, key: ConfigKey, input: unknown): KeyOutcome {
  const schema = configKeySchemas[key] as z.ZodType;
  const result = schema.safeParse(input);
  if (result.success) return { problems: [], parsed: { value: result.data } };
  // Content checks need the plaintext; presence is all that can be known here.
  if (raw.opaqueKeys?.has(fullKey(key)) ?? false) return { problems: [], parsed: { value: input } };
  return { problems: result.error.issues.map((issue) => problemFromIssue(key, input, issue)) };
}

const SET_EXAMPLES: Partial<Record<ConfigKey, string>> = {
  cloud: "pulumi config set coturn:cloud aws",
  region: "pulumi config set coturn:region eu-central-1",
  domain: "pulumi config set coturn:domain turn.example.com",
  authSecret: 'pulumi config set --secret coturn:authSecret "$(openssl rand -base64 48)"',
};

/** How Pulumi passes a key's value to a program: JSON text for lists and objects, "true"/"false", or plain text. */
type ConfigKeyKind = "list" | "object" | "boolean" | "text";

const keyKinds: Record<string, ConfigKeyKind> = Object.fromEntries(
  Object.entries(
    (z.toJSONSchema(stackConfigSchema, { io: "input", unrepresentable: "any" }) as { properties: Record<string, { type?: string }> })
      .properties,
  ).map(([key, property]) => [
    key,
    property.type === "array" ? "list" : property.type === "object" ? "object" : property.type === "boolean" ? "boolean" : "text",
  ]),
);

/** The kind of a key, read from its schema so it cannot drift from it. */
function configKeyKind(key: ConfigKey): ConfigKeyKind {
  return keyKinds[key] ?? "text";
}

/** Decodes Pulumi's text form of one key into the JSON value its schema expects. */
function decode(key: ConfigKey, text: string): { value: unknown } | { problem: string } {
  const kind = configKeyKind(key);
  if (kind === "list" || kind === "object") {
    try {
      return { value: JSON.parse(text) };
    } catch {
      return {
        problem:
          kind === "list"
            ? `is not a list. Write a YAML list in the stack file, or set items with: pulumi config set --path '${fullKey(key)}[0]' <value>`
            : `is not an object. Write a YAML mapping in the stack file, or set fields with: pulumi config set --path '${fullKey(key)}.<field>' <value>`,
      };
    }
  }
  if (kind === "boolean") {
    if (text === "true" || text === "false") return { value: text === "true" };
    return { problem: "is not a boolean. Use true or false" };
  }
  return { value: text };
}

function pathSuffix(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const p of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[p];
  }
  return node;
}

/** Translates one zod issue into a problem that says what to do. */
function problemFromIssue(key: ConfigKey, input: unknown, issue: z.core.$ZodIssue): ConfigProblem {
  const at = valueAt(input, issue.path);
  const path = key + pathSuffix(issue.path);
  const where = fullKey(path);
  const shown = shownValueAt(path, at);
  switch (issue.code) {
    case "invalid_type": {
      if (at === undefined && issue.path.length === 0) {
        const example = SET_EXAMPLES[key];
        return { key: where, shownValue: undefined, message: example === undefined ? "is required but not set" : `is required but not set. Set it: ${example}` };
      }
      if (at === undefined) {
        return {
          key: where,
          shownValue: undefined,
          message: `is required but not set: give ${describeExpected(issue.expected)}, e.g. pulumi config set --path '${where}' <value>`,
        };
      }
      if (issue.expected === "int" && (typeof at === "number" || (typeof at === "string" && /^-?\d+\.\d+$/.test(at)))) {
        return { key: where, shownValue: shown, message: "must be a whole number" };
      }
      const got = Array.isArray(at) ? "a list" : at === null ? "null" : typeof at === "object" ? "a mapping" : `a ${typeof at}`;
      return { key: where, shownValue: shown, message: `must be ${describeExpected(issue.expected)}, not ${got}` };
    }
    case "invalid_value": {
      const choices = issue.values.filter((v): v is string => typeof v === "string");
      const suggestion = typeof at === "string" ? closestName(at, choices) : undefined;
      return {
        key: where,
        shownValue: shown,
        message: `is not one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}${suggestion === undefined ? "" : ` (did you mean "${suggestion}"?)`}`,
      };
    }
    case "unrecognized_keys": {
      const knownFields = fieldNames(key);
      return {
        key: where,
        shownValue: undefined,
        message: issue.keys
          .map((k) => {
            const suggestion = closestName(k, knownFields);
            return `has unknown field "${k}"${suggestion ? ` (did you mean "${suggestion}"?)` : ""}; known fields: ${knownFields.join(", ")}`;
          })
          .join("; "),
      };
    }
    case "too_small":
      return {
        key: where,
        shownValue: shown,
        message: issue.origin === "number" ? `must be at least ${String(issue.minimum)}` : issue.message,
      };
    case "too_big":
      return {
        key: where,
        shownValue: shown,
        message: issue.origin === "number" ? `must be at most ${String(issue.maximum)}` : issue.message,
      };
    case "invalid_key": {
      // A record key (a tag name) failed: show the name, and the schema's own message for it.
      const name = String(issue.path.at(-1) ?? "");
      return {
        key: fullKey(key) + pathSuffix(issue.path.slice(0, -1)),
        shownValue: shownValueAt(key, name),
        message: `has an invalid name: ${issue.issues[0]?.message ?? issue.message}`,
      };
    }
    default:
      return { key: where, shownValue: shown, message: issue.message };
  }
}

function describeExpected(expected: string): string {
  const names: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    array: "a list",
    object: "a mapping of fields",
    record: "a mapping of names to values",
  };
  return names[expected] ?? expected;
}

/** Field names of an object-valued key (`quotas`, `ssh`), read from its schema. */
function fieldNames(key: ConfigKey): string[] {
  const schema = configKeySchemas[key] as unknown as { def: { innerType?: { shape?: object } } };
  return Object.keys(schema.def.innerType?.shape ?? {});
}
