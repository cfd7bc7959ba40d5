/**
 * Turns raw stack config (Pulumi's key -> text map) into a `StackConfig`, or one error that lists every problem with
 * the key, the bad value and the fix.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import type { z } from "zod";
import {
  ACME_DIRECTORY_URLS,
  CLOUD_ONLY_KEYS,
  CONFIG_NAMESPACE,
  GLOBAL_CLOUD,
  GLOBAL_ONLY_KEYS,
  GLOBAL_STACK_KEYS,
  LISTENER_PORTS,
  LOCAL_CLOUD,
  SECRET_KEYS,
  configKeySchemas,
  ipv4CidrProblem,
  configKeyKind,
  parsePortRange,
  type ConfigKey,
  type DeployCloud,
  type ParsedConfigKeys,
} from "./schema";
import { CLOUD_PROFILES, exampleZone, isZoneOfRegion } from "./cloudProfiles";
import type { CoturnSettings, EphemeralStack, GlobalStackConfig, LocalStackConfig, StackConfig, TlsSource } from "./stackConfig";
import { assembleGlobal, globalStackProblems } from "./globalStackConfig";
import { parseDuration } from "./duration";
import { MEDIA_BITRATES_KBPS, sizeRegion, type SizingPlan } from "./capacity";
import { EPHEMERAL_TAG, EXPIRES_AT_TAG, PULUMI_TAGS_KEY, expiryAfter, formatExpiry, parseExpiry } from "./stackTags";

/** Raw config as Pulumi hands it to a program: `namespace:key` -> text, JSON text for lists and objects. */
export interface RawStackConfig {
  /** Pulumi stack name. */
  readonly stack: string;
  /** Every config value of the stack, all namespaces. */
  readonly values: Readonly<Record<string, string>>;
  /** Keys whose value is stored encrypted. */
  readonly secretKeys: ReadonlySet<string>;
  /** Encrypted keys whose plaintext is not available here: checks of their content are skipped. */
  readonly opaqueKeys?: ReadonlySet<string>;
}

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

/** SSH sources wider than this prefix (more than 65,536 addresses) need `ssh.allowAnySource`. */
const MIN_SSH_PREFIX = 16;

/** `coturn:<key>`. */
export const fullKey = (key: string): string => `${CONFIG_NAMESPACE}:${key}`;

const SET_EXAMPLES: Partial<Record<ConfigKey, string>> = {
  cloud: "pulumi config set coturn:cloud aws",
  region: "pulumi config set coturn:region eu-central-1",
  domain: "pulumi config set coturn:domain turn.example.com",
  authSecret: 'pulumi config set --secret coturn:authSecret "$(openssl rand -base64 48)"',
};

/** Shows a value for an error message without ever revealing a secret. */
function showValue(key: ConfigKey, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (SECRET_KEYS.includes(key)) {
    return typeof value === "string" ? `(secret, ${value.length} characters)` : "(secret)";
  }
  return JSON.stringify(value);
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

function closestKnown(name: string, known: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length];
  };
  const ranked = known
    .map((k) => ({ k, d: distance(name.toLowerCase(), k.toLowerCase()) }))
    .sort((x, y) => x.d - y.d);
  return ranked[0] && ranked[0].d <= Math.max(2, Math.floor(name.length / 3)) ? ranked[0].k : undefined;
}

/** Translates one zod issue into a problem that says what to do. */
function problemFromIssue(key: ConfigKey, input: unknown, issue: z.core.$ZodIssue): ConfigProblem {
  const at = valueAt(input, issue.path);
  const where = fullKey(key) + pathSuffix(issue.path);
  const shown = showValue(key, at);
  switch (issue.code) {
    case "invalid_type": {
      if (at === undefined && issue.path.length === 0) {
        const example = SET_EXAMPLES[key];
        return { key: where, shownValue: undefined, message: `is required but not set. Set it: ${example ?? ""}`.trim() };
      }
      if (issue.expected === "int" && (typeof at === "number" || (typeof at === "string" && /^-?\d+\.\d+$/.test(at)))) {
        return { key: where, shownValue: shown, message: "must be a whole number" };
      }
      const got = Array.isArray(at) ? "a list" : at === null ? "null" : typeof at === "object" ? "a mapping" : `a ${typeof at}`;
      return { key: where, shownValue: shown, message: `must be ${describeExpected(issue.expected)}, not ${got}` };
    }
    case "invalid_value":
      return {
        key: where,
        shownValue: shown,
        message: `is not one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
      };
    case "unrecognized_keys": {
      const knownFields = fieldNames(key);
      return {
        key: where,
        shownValue: undefined,
        message: issue.keys
          .map((k) => {
            const suggestion = closestKnown(k, knownFields);
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
        shownValue: JSON.stringify(name),
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

/** True when the raw config says `coturn:cloud: local` (a stack for `npm run local`, never deployed). */
export function isLocalStack(raw: RawStackConfig): boolean {
  return raw.values[fullKey("cloud")] === LOCAL_CLOUD;
}

/** True when the raw config says `coturn:cloud: global` (GeoDNS in front of region stacks). */
export function isGlobalStack(raw: RawStackConfig): boolean {
  return raw.values[fullKey("cloud")] === GLOBAL_CLOUD;
}

/** What a stack is: a region on a cloud, the local target, or the global stack in front of regions. */
type StackKind = "cloud" | "local" | "global";

function kindOf(raw: RawStackConfig): StackKind {
  return isLocalStack(raw) ? "local" : isGlobalStack(raw) ? "global" : "cloud";
}

/**
 * Validates a cloud stack's raw config and returns the typed config, or throws `StackConfigError` listing every
 * problem. A local stack (`coturn:cloud: local`) is one of the problems: it is run with `npm run local`.
 */
export function validateStackConfig(raw: RawStackConfig): StackConfig {
  const config = validateAnyStackConfig(raw, "cloud");
  if (config.cloud === LOCAL_CLOUD || config.cloud === GLOBAL_CLOUD) throw new Error("unreachable: a local or global stack was reported as a problem");
  return config;
}

/**
 * Validates a global stack's raw config (`coturn:cloud: global`), or throws `StackConfigError` listing every problem,
 * including region-stack keys that are set on it.
 */
export function validateGlobalStackConfig(raw: RawStackConfig): GlobalStackConfig {
  const config = validateAnyStackConfig(raw, "global");
  if (config.cloud !== GLOBAL_CLOUD) throw new Error("unreachable: a region stack was reported as a problem");
  return config;
}

/**
 * Validates a local stack's raw config (`coturn:cloud: local`, with the run's secret already added as
 * `coturn:authSecret`) and returns the typed config, or throws `StackConfigError` listing every problem: cloud-only
 * keys that are set, listeners and TLS modes a process of an ordinary user cannot serve, and a cloud stack.
 */
export function validateLocalStackConfig(raw: RawStackConfig): LocalStackConfig {
  const config = validateAnyStackConfig(raw, "local");
  if (config.cloud !== LOCAL_CLOUD) throw new Error("unreachable: a cloud stack was reported as a problem");
  return config;
}

function validateAnyStackConfig(raw: RawStackConfig, expected: StackKind): StackConfig | LocalStackConfig | GlobalStackConfig {
  const kind = kindOf(raw);
  const local = kind === "local";
  const problems: ConfigProblem[] = [];
  const knownKeys = Object.keys(configKeySchemas) as ConfigKey[];
  const prefix = `${CONFIG_NAMESPACE}:`;

  for (const name of Object.keys(raw.values).sort()) {
    if (!name.startsWith(prefix)) continue;
    const bare = name.slice(prefix.length);
    if (!(knownKeys as string[]).includes(bare)) {
      const suggestion = closestKnown(bare, knownKeys);
      problems.push({
        key: name,
        shownValue: undefined,
        message:
          `is not a known key${suggestion ? ` (did you mean ${fullKey(suggestion)}?)` : ""}. ` +
          `Remove it with: pulumi config rm ${name}`,
      });
    }
  }

  const parsed: Partial<Record<ConfigKey, unknown>> = {};
  for (const key of knownKeys) {
    const name = fullKey(key);
    const text = raw.values[name];
    const opaque = raw.opaqueKeys?.has(name) ?? false;
    const misplaced =
      kind === "global"
        ? !(GLOBAL_STACK_KEYS as readonly string[]).includes(key) &&
          "is a region stack setting and means nothing on a global stack (coturn:cloud global), which only points the shared name at region stacks"
        : (GLOBAL_ONLY_KEYS as readonly string[]).includes(key) &&
          "is a setting of the global stack (coturn:cloud global), which puts region stacks behind one name; a region stack ignores it";
    if (misplaced) {
      if (text !== undefined) {
        problems.push({ key: name, shownValue: SECRET_KEYS.includes(key) ? "(secret)" : text, message: `${misplaced}. Remove it from ${stackFileName(raw.stack)}` });
      }
      continue;
    }
    if (local && (CLOUD_ONLY_KEYS as readonly string[]).includes(key)) {
      // Unset is right for a local stack (no "required" region); set is a cloud setting that would do nothing.
      if (text !== undefined) {
        const decoded = decode(key, text);
        problems.push({
          key: name,
          shownValue: showValue(key, "value" in decoded ? decoded.value : text),
          message:
            `is a cloud setting and means nothing with coturn:cloud "local" (coturn runs on this machine). ` +
            `Remove it from ${stackFileName(raw.stack)}`,
        });
      }
      continue;
    }
    if (local && key === "previousAuthSecrets" && text !== undefined) {
      problems.push({
        key: name,
        shownValue: "(secret)",
        message: `is set, but a local stack's secret lives for one run, so there is nothing to rotate. Remove it from ${stackFileName(raw.stack)}`,
      });
      continue;
    }
    if (local && key === "authSecret" && text === undefined) {
      problems.push({
        key: name,
        shownValue: undefined,
        message: "is not set: a local stack gets a fresh secret on each run of `npm run local`, which adds it before validating",
      });
      continue;
    }
    if (text !== undefined && SECRET_KEYS.includes(key) && !raw.secretKeys.has(name)) {
      problems.push({
        key: name,
        shownValue: "(not shown)",
        message: `is stored in plain text. Set it again encrypted: pulumi config set --secret ${name} <value>`,
      });
    }
    let input: unknown;
    if (text !== undefined) {
      const decoded = decode(key, text);
      if ("problem" in decoded) {
        problems.push({ key: name, shownValue: showValue(key, text), message: decoded.problem });
        continue;
      }
      input = decoded.value;
    }
    const schema = configKeySchemas[key] as z.ZodType;
    const result = schema.safeParse(input);
    if (result.success) {
      parsed[key] = result.data;
    } else if (opaque) {
      // Content checks need the plaintext; presence is all that can be known here.
      parsed[key] = input;
    } else {
      problems.push(...result.error.issues.map((issue) => problemFromIssue(key, input, issue)));
    }
  }

  if (kind === "global") problems.push(...kindProblems(kind, expected), ...globalStackProblems(parsed as Partial<ParsedConfigKeys>, raw));
  else problems.push(...crossKeyProblems(parsed as Partial<ParsedConfigKeys>, raw, expected));
  if (problems.length > 0) throw new StackConfigError(raw.stack, problems);

  if (kind === "global") return assembleGlobal(raw, parsed as ParsedConfigKeys);
  return local ? assembleLocal(raw.stack, parsed as ParsedConfigKeys) : assemble(raw, parsed as ParsedConfigKeys);
}

/** A stack of one kind handed to a command for another: what each kind is run with. */
function kindProblems(kind: StackKind, expected: StackKind): ConfigProblem[] {
  if (kind === expected) return [];
  const runs: Record<StackKind, string> = {
    cloud: "a region stack, deployed with `pulumi up`",
    local: "the local target, run with `npm run local`",
    global: "the global stack, which has no server of its own: it points the shared name at region stacks (`pulumi up`)",
  };
  const value = kind === "cloud" ? undefined : kind;
  return [{ key: fullKey("cloud"), shownValue: value && JSON.stringify(value), message: `makes this ${runs[kind]}; this command needs ${runs[expected]}` }];
}

/** The stack file a user edits for a stack (local stacks have no `pulumi config` of their own). */
function stackFileName(stack: string): string {
  return `stacks/Pulumi.${stack}.yaml`;
}

/** Rules that involve more than one key; each runs only when the keys it needs parsed. */
function crossKeyProblems(c: Partial<ParsedConfigKeys>, raw: RawStackConfig, expected: StackKind): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (key: string, value: unknown, message: string): void => {
    problems.push({ key: fullKey(key), shownValue: value === undefined ? undefined : JSON.stringify(value), message });
  };
  const local = c.cloud === LOCAL_CLOUD;

  if (c.cloud && expected === "cloud" && local) {
    add("cloud", c.cloud, "runs coturn on this machine: start it with `npm run local`. Only cloud stacks are deployed or rendered for a VM");
  } else if (c.cloud && expected === "local" && !local) {
    add(
      "cloud",
      c.cloud,
      'is a cloud stack: `npm run local` runs stacks with coturn:cloud "local" (stacks/Pulumi.local.yaml). Deploy this one with `pulumi up`',
    );
  }
  if (expected === "global") problems.push(...kindProblems(local ? "local" : "cloud", "global"));
  for (const problem of sizingOf(c)?.problems ?? []) {
    const [top, field] = problem.key.split(".") as [ConfigKey, string | undefined];
    const value = field === undefined ? c[top] : (c[top] as Record<string, unknown> | undefined)?.[field];
    add(problem.key, top === "instanceType" ? effectiveInstanceType(c) : value, `${problem.message} (sized from coturn:capacity)`);
  }
  if (c.cloud && c.cloud !== LOCAL_CLOUD && c.cloud !== GLOBAL_CLOUD) problems.push(...cloudProblems(c.cloud, c));

  if (c.relayPorts !== undefined) {
    const range = parsePortRange(c.relayPorts);
    if (typeof range === "string") {
      add("relayPorts", c.relayPorts, range);
    } else if (c.listeners) {
      const used = [
        ...(c.listeners.some((l) => l === "udp" || l === "tcp") ? [LISTENER_PORTS.plain] : []),
        ...(c.listeners.some((l) => l === "tls" || l === "dtls" || l === "tls-443") ? [LISTENER_PORTS.tls] : []),
      ];
      for (const port of used) {
        if (port >= range.min && port <= range.max) {
          add("relayPorts", c.relayPorts, `overlaps listener port ${port}. Use a range above it, e.g. "49152-65535"`);
        }
      }
    }
  }

  if (c.listeners) {
    const seen = new Set<string>();
    const repeated = new Set<string>();
    for (const l of c.listeners) {
      if (seen.has(l)) repeated.add(l);
      seen.add(l);
    }
    for (const l of repeated) add("listeners", c.listeners, `lists "${l}" more than once. List each listener once`);
    if (seen.has("tls-443") && !seen.has("tls")) {
      add("listeners", c.listeners, `has "tls-443" without "tls": port 443 is forwarded to the TLS listener. Add "tls"`);
    }
    if (local && seen.has("tls-443")) {
      add(
        "listeners",
        c.listeners,
        `has "tls-443", which needs root and an nftables redirect of port 443; coturn:cloud "local" runs coturn as you. ` +
          `Remove "tls-443" (browsers reach turns: on port ${LISTENER_PORTS.tls})`,
      );
    }
  }

  if (c.authSecret !== undefined && c.previousAuthSecrets) {
    const all = [c.authSecret, ...c.previousAuthSecrets];
    if (new Set(all).size !== all.length) {
      problems.push({
        key: fullKey("previousAuthSecrets"),
        shownValue: "(secret)",
        message:
          "repeats a secret (or holds the active coturn:authSecret). List each secret once " +
          "(an interrupted `npm run rotate` leaves this state: run the same command again to finish it)",
      });
    }
  }

  const opaque = (key: string): boolean => raw.opaqueKeys?.has(fullKey(key)) ?? false;
  if (local) {
    if (c.tlsMode === "provided" || c.tlsMode === "acme") {
      add(
        "tlsMode",
        c.tlsMode,
        `is not possible with coturn:cloud "local", which makes a fresh self-signed certificate on each run. ` +
          `Remove it (or set "self-signed") in ${stackFileName(raw.stack)}`,
      );
    }
    for (const key of ["tlsCertificate", "tlsPrivateKey"]) {
      if (raw.values[fullKey(key)] !== undefined) {
        problems.push({
          key: fullKey(key),
          shownValue: undefined,
          message: `is set, but coturn:cloud "local" makes a fresh self-signed certificate on each run and ignores it. Remove it from ${stackFileName(raw.stack)}`,
        });
      }
    }
  } else if (c.tlsMode === "provided") {
    if (raw.values[fullKey("tlsCertificate")] === undefined) {
      add("tlsCertificate", undefined, 'is required with tlsMode "provided". Set it: pulumi config set coturn:tlsCertificate -- "$(cat fullchain.pem)"');
    }
    if (raw.values[fullKey("tlsPrivateKey")] === undefined) {
      add("tlsPrivateKey", undefined, 'is required with tlsMode "provided". Set it: pulumi config set --secret coturn:tlsPrivateKey -- "$(cat privkey.pem)"');
    }
    if (c.tlsCertificate !== undefined && c.tlsPrivateKey !== undefined && c.domain && !opaque("tlsPrivateKey")) {
      problems.push(...certificateProblems(c.tlsCertificate, c.tlsPrivateKey, c.domain));
    }
  } else if (c.tlsMode !== undefined) {
    for (const key of ["tlsCertificate", "tlsPrivateKey"]) {
      if (raw.values[fullKey(key)] !== undefined) {
        problems.push({
          key: fullKey(key),
          shownValue: undefined,
          message: `is set, but coturn:tlsMode is "${c.tlsMode}"${raw.values[fullKey("tlsMode")] === undefined ? " (the default)" : ""}, which ignores it. Set coturn:tlsMode to "provided", or remove ${fullKey(key)}`,
        });
      }
    }
  }
  if (!local) problems.push(...acmeAndDnsProblems(c, raw), ...ephemeralProblems(c, raw));

  if (c.ssh) {
    for (const [i, cidr] of c.ssh.allowedCidrs.entries()) {
      const problem = ipv4CidrProblem(cidr);
      if (problem) add(`ssh.allowedCidrs[${i}]`, cidr, problem);
      else if (Number(cidr.split("/")[1]) < MIN_SSH_PREFIX && !c.ssh.allowAnySource) {
        add(
          `ssh.allowedCidrs[${i}]`,
          cidr,
          `opens SSH to ${cidr.endsWith("/0") ? "the whole internet" : `${(2 ** (32 - Number(cidr.split("/")[1]))).toLocaleString("en-US")} addresses`}. ` +
            'Use your own address (e.g. "203.0.113.7/32"), or set coturn:ssh.allowAnySource to true if you really mean it',
        );
      }
    }
    if (c.cloud && !local && expected === "cloud" && c.ssh.allowedCidrs.length === 0) {
      add(
        "ssh.allowedCidrs",
        [],
        "is empty, but `pulumi up` delivers the TURN secrets to the VM over SSH (port 22, with a key this stack generates that can " +
          "only replace the secret set). List the address of every machine that runs `pulumi up` for this stack: " +
          "pulumi config set --path 'coturn:ssh.allowedCidrs[0]' 203.0.113.7/32 (CI runners without fixed addresses need their " +
          "provider's range, or 0.0.0.0/0 with coturn:ssh.allowAnySource true)",
      );
    }
  }

  if (c.rotation) {
    if ((c.previousAuthSecrets ?? []).length === 0) {
      add(
        "rotation",
        c.rotation,
        "records a rotation in progress, but coturn:previousAuthSecrets is empty, so there is no old secret to phase out. " +
          "Remove it: pulumi config rm coturn:rotation",
      );
    }
    if (c.rotation.phase === "switched" && c.rotation.switchedAt === undefined) {
      add("rotation.switchedAt", undefined, 'is required in phase "switched". Run npm run rotate -- --stack <name> --apps-switched again');
    }
  }
  return problems;
}

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
function ephemeralProblems(c: Partial<ParsedConfigKeys>, raw: RawStackConfig): ConfigProblem[] {
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

/** The keys `tlsMode: acme` needs or ignores, and the Cloudflare zone and token that go together. */
function acmeAndDnsProblems(c: Partial<ParsedConfigKeys>, raw: RawStackConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const isSet = (key: ConfigKey): boolean => raw.values[fullKey(key)] !== undefined;
  const add = (key: ConfigKey, message: string): void => {
    problems.push({ key: fullKey(key), shownValue: undefined, message });
  };
  const zoneTokenHelp = "create a token with permission Zone > DNS > Edit for your domain's zone only (Cloudflare dashboard > My Profile > API Tokens)";
  if (isSet("cloudflareZoneId") && !isSet("cloudflareApiToken")) {
    add("cloudflareApiToken", `is required with coturn:cloudflareZoneId: ${zoneTokenHelp}, then: pulumi config set --secret coturn:cloudflareApiToken <token>`);
  }
  if (isSet("cloudflareApiToken") && !isSet("cloudflareZoneId") && c.tlsMode !== "acme") {
    add("cloudflareZoneId", "is required with coturn:cloudflareApiToken (the zone to create the records in): pulumi config set coturn:cloudflareZoneId <32 hex digits from the zone's Overview page>");
  }
  if (isSet("publishSharedName") && !isSet("cloudflareZoneId")) {
    add("publishSharedName", "is set, but without coturn:cloudflareZoneId no record is created. Set the zone, or remove it");
  }
  if (c.tlsMode === "acme") {
    if (!isSet("acmeDnsApiToken") && !isSet("cloudflareApiToken")) {
      add(
        "acmeDnsApiToken",
        `is required with tlsMode "acme": the VM proves it owns ${c.domain ?? "the domain"} with a TXT record in Cloudflare DNS. ` +
          `${zoneTokenHelp[0].toUpperCase()}${zoneTokenHelp.slice(1)}, then: pulumi config set --secret coturn:acmeDnsApiToken <token>`,
      );
    }
  } else if (c.tlsMode !== undefined) {
    for (const key of ["acmeEmail", "acmeCa", "acmeDnsApiToken"] as const) {
      const mode = `"${c.tlsMode}"${isSet("tlsMode") ? "" : " (the default)"}`;
      if (isSet(key)) add(key, `is set, but coturn:tlsMode is ${mode}, which ignores it. Set coturn:tlsMode to "acme", or remove ${fullKey(key)}`);
    }
  }
  return problems;
}

/** Region, zone, size, image and tags checked against what the stack's cloud accepts. */
function cloudProblems(cloud: DeployCloud, c: Partial<ParsedConfigKeys>): ConfigProblem[] {
  const profile = CLOUD_PROFILES[cloud];
  const problems: ConfigProblem[] = [];
  const add = (key: string, value: unknown, message: string): void => {
    problems.push({ key: fullKey(key), shownValue: JSON.stringify(value), message });
  };
  const examples = (names: readonly string[]): string => names.map((n) => `"${n}"`).join(" or ");
  const regionValid = c.region !== undefined && profile.region.pattern.test(c.region);
  if (c.region !== undefined && !regionValid) {
    add("region", c.region, `is not ${profile.region.what} (coturn:cloud is ${cloud}). Use one such as ${examples(profile.region.examples)}`);
  }
  if (c.availabilityZone !== undefined) {
    if (profile.zoneNaming === "none") {
      add("availabilityZone", c.availabilityZone, `means nothing on ${profile.title}, which places a Droplet by region only. Remove it`);
    } else if (c.region !== undefined && regionValid && !isZoneOfRegion(profile.zoneNaming, c.region, c.availabilityZone)) {
      add(
        "availabilityZone",
        c.availabilityZone,
        `is not a zone of region ${c.region}. Use e.g. "${exampleZone(profile.zoneNaming, c.region)}", or unset it`,
      );
    }
  }
  if (c.instanceType !== undefined && !profile.instanceType.pattern.test(c.instanceType)) {
    add(
      "instanceType",
      c.instanceType,
      `is not ${profile.instanceType.what} (coturn:cloud is ${cloud}). Use one such as ${examples(profile.instanceType.examples)}, or unset it for ${profile.defaultInstanceType}`,
    );
  }
  const unusable = c.image === undefined ? undefined : profile.unusableImages[c.image];
  if (unusable !== undefined) add("image", c.image, unusable);
  for (const [name, value] of Object.entries(c.tags ?? {})) {
    const problem = profile.tagProblem(name, value);
    if (problem) problems.push({ key: `${fullKey("tags")}.${name}`, shownValue: JSON.stringify(value), message: problem });
  }
  return problems;
}

/** Checks a provided certificate: parses, is current, names the domain, and matches the private key. */
function certificateProblems(chain: string, key: string, domain: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (k: string, message: string): void => {
    problems.push({ key: fullKey(k), shownValue: k === "tlsPrivateKey" ? "(secret)" : "(PEM)", message });
  };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(chain);
  } catch (error) {
    add("tlsCertificate", `does not parse as an X.509 certificate (${(error as Error).message}). Set it from fullchain.pem`);
    return problems;
  }
  if (new Date(leaf.validTo).getTime() < Date.now()) {
    add("tlsCertificate", `expired on ${leaf.validTo}. Renew it and set the new chain`);
  }
  if (leaf.checkHost(domain) === undefined) {
    add("tlsCertificate", `does not cover coturn:domain "${domain}" (it names ${leaf.subjectAltName ?? leaf.subject}). Use a certificate for ${domain}`);
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) {
      add("tlsPrivateKey", "does not belong to the leaf certificate of coturn:tlsCertificate. Set the key that was issued with it");
    }
  } catch (error) {
    add("tlsPrivateKey", `does not parse as a private key (${(error as Error).message}). Set it from privkey.pem`);
  }
  return problems;
}

/** The settings every stack has; `tls` and `authSecrets` are refined by the callers. */
function assembleCoturnSettings(stack: string, c: ParsedConfigKeys): CoturnSettings {
  const range = parsePortRange(c.relayPorts);
  if (typeof range === "string") throw new Error(`unreachable: relayPorts was validated (${range})`);
  const tls: TlsSource =
    c.tlsMode === "provided"
      ? { mode: "provided", certificateChain: c.tlsCertificate ?? "", privateKey: c.tlsPrivateKey ?? "" }
      : c.tlsMode === "acme"
        ? acmeSettings(c)
        : { mode: "self-signed" };
  return {
    stack,
    domain: c.domain,
    realm: c.realm ?? c.domain,
    relayPorts: range,
    listeners: new Set(c.listeners),
    authSecrets: [c.authSecret, ...c.previousAuthSecrets],
    tls,
    quotas: c.quotas,
  };
}

function acmeSettings(c: ParsedConfigKeys): TlsSource {
  const ca = c.acmeCa ?? (isEphemeral(c) ? "staging" : "production");
  const dnsApiToken = c.acmeDnsApiToken ?? c.cloudflareApiToken;
  if (dnsApiToken === undefined) throw new Error("unreachable: acme keys were validated");
  return { mode: "acme", ...(c.acmeEmail === undefined ? {} : { email: c.acmeEmail }), ca, directoryUrl: ACME_DIRECTORY_URLS[ca], dnsApiToken };
}

/** True when coturn:ephemeral holds a time to live. */
function isEphemeral(c: Partial<ParsedConfigKeys>): c is Partial<ParsedConfigKeys> & { ephemeral: string } {
  return c.ephemeral !== undefined && c.ephemeral !== "false";
}

/** A validated test stack's lifetime, read back from its tags. */
function ephemeralStack(raw: RawStackConfig, ttlText: string): EphemeralStack {
  const tags = stackTagsOf(raw);
  const ttl = parseDuration(ttlText);
  const expiresAt = typeof tags === "string" ? undefined : parseExpiry(tags[EXPIRES_AT_TAG] ?? "");
  if ("problem" in ttl || expiresAt === undefined || "problem" in expiresAt) throw new Error("unreachable: the test stack's tags were validated");
  return { timeToLive: ttl.text, expiresAt: formatExpiry(expiresAt) };
}

/** The VM size a cloud stack gets: the configured one, or its cloud's default (the smallest for a test stack). */
function effectiveInstanceType(c: Partial<ParsedConfigKeys>): string | undefined {
  if (c.cloud === undefined || c.cloud === LOCAL_CLOUD || c.cloud === GLOBAL_CLOUD) return undefined;
  return c.instanceType ?? (isEphemeral(c) ? CLOUD_PROFILES[c.cloud].testInstanceType : CLOUD_PROFILES[c.cloud].defaultInstanceType);
}

/** The sizing for `coturn:capacity`, once every key it reads has parsed; undefined without it. */
function sizingOf(c: Partial<ParsedConfigKeys>): SizingPlan | undefined {
  const instanceType = effectiveInstanceType(c);
  const range = c.relayPorts === undefined ? undefined : parsePortRange(c.relayPorts);
  if (!c.capacity || !c.cloud || !instanceType || !c.listeners || !c.quotas || !c.serverCount || range === undefined || typeof range === "string") {
    return undefined;
  }
  return sizeRegion({
    peakCalls: c.capacity.peakCalls,
    participantsPerCall: c.capacity.participantsPerCall,
    bitrateKbps: c.capacity.bitrateKbps ?? MEDIA_BITRATES_KBPS[c.capacity.media],
    listeners: new Set(c.listeners),
    relayPorts: range,
    serverCount: c.serverCount,
    cloud: c.cloud,
    instanceType,
    quotas: c.quotas,
  });
}

function assemble(raw: RawStackConfig, c: ParsedConfigKeys): StackConfig {
  const stack = raw.stack;
  if (c.cloud === LOCAL_CLOUD || c.cloud === GLOBAL_CLOUD) throw new Error("unreachable: local and global stacks are assembled elsewhere");
  const settings = assembleCoturnSettings(stack, c);
  const sizing = sizingOf(c);
  return {
    ...settings,
    // The sized peak with headroom becomes `total-quota` unless the operator set one.
    ...(sizing ? { quotas: { ...settings.quotas, totalAllocations: sizing.totalAllocations } } : {}),
    ...(sizing ? { sizing } : {}),
    cloud: c.cloud,
    region: c.region,
    ...(c.availabilityZone === undefined ? {} : { availabilityZone: c.availabilityZone }),
    instanceType: effectiveInstanceType(c) ?? "",
    image: c.image ?? CLOUD_PROFILES[c.cloud].defaultImage,
    ssh: { allowedCidrs: c.ssh.allowedCidrs, publicKeys: c.ssh.publicKeys },
    tags: c.tags,
    ephemeral: isEphemeral(c) ? ephemeralStack(raw, c.ephemeral) : undefined,
    regionDomain: c.regionDomain ?? `${c.region}.${c.domain}`,
    ...(c.cloudflareZoneId === undefined || c.cloudflareApiToken === undefined
      ? {}
      : { cloudflare: { zoneId: c.cloudflareZoneId, apiToken: c.cloudflareApiToken, publishSharedName: c.publishSharedName } }),
    maxCredentialTtlSeconds: c.maxCredentialTtl,
    serverCount: c.serverCount,
    ...(c.rotation === undefined ? {} : { rotation: c.rotation }),
  };
}

function assembleLocal(stack: string, c: ParsedConfigKeys): LocalStackConfig {
  return {
    ...assembleCoturnSettings(stack, c),
    cloud: LOCAL_CLOUD,
    authSecrets: [c.authSecret],
    tls: { mode: "self-signed" },
  };
}
