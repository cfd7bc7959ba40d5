/**
 * Writes a test stack's file from an example stack file: the same config and secrets (the file's own encryption salt
 * or KMS key travels with it), made a test stack: a time to live and its tags, a DNS name of its own under the
 * domain so it never touches a real region's records, and the smallest VM.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { StackFileError, readStackFile, stackFilePath } from "../config/stackFile";
import { validateStackConfig } from "../config/validate";
import { isLocalStack } from "../config/rawStackConfig";
import type { StackConfig } from "../config/stackConfig";
import type { Duration } from "../config/duration";
import { PULUMI_TAGS_KEY, expiryAfter } from "../config/stackTags";
import { ephemeralStackTags } from "./ephemeralMark";

/** A test stack's name: lowercase, so it also works as a DNS label under the domain. */
export const TEST_STACK_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A fresh unique name: `<from>-test-<yyyymmddhhmm>-<4 hex>`, cut to fit a DNS label. */
export function uniqueTestStackName(from: string, now: Date, random: string): string {
  const stamp = now.toISOString().slice(0, 16).replace(/[-T:]/g, "");
  const prefix = from.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63 - "-test-".length - stamp.length - 1 - random.length);
  return `${prefix}-test-${stamp}-${random}`;
}

/** What was written. */
export interface WrittenTestStack {
  /** Path of the new stack file. */
  readonly file: string;
  /** The new stack's tags (marker and expiry). */
  readonly tags: Record<string, string>;
  /** The test stack's own DNS name. */
  readonly regionDomain: string;
  /** Its config, validated as `pulumi up` will (secrets not opened). */
  readonly config: StackConfig;
}

/** The example stack's validated config, secrets left closed; StackFileError or StackConfigError when unusable. */
function exampleConfig(from: string): StackConfig {
  const raw = readStackFile(from, { mode: "placeholder" });
  if (isLocalStack(raw)) throw new StackFileError(stackFilePath(from), "is the local target (coturn:cloud local), which has no cloud to deploy a test stack to");
  return validateStackConfig(raw);
}

/**
 * Writes stacks/Pulumi.<name>.yaml from stacks/Pulumi.<from>.yaml. Throws StackFileError (or StackConfigError) before
 * writing anything when the example cannot make a test stack.
 */
export function writeTestStackFile(from: string, name: string, ttl: Duration, now: Date): WrittenTestStack {
  const source = stackFilePath(from);
  const file = stackFilePath(name);
  const example = exampleConfig(from);
  if (existsSync(file)) throw new StackFileError(file, "already exists: pick another --name");
  const text = readFileSync(source, "utf8");
  const document = parseDocument(text);
  if (/\bsecure:/.test(text) && document.get("encryptionsalt") === undefined && document.get("encryptedkey") === undefined) {
    throw new StackFileError(
      source,
      "its secrets are encrypted with Pulumi Cloud's key for that one stack, which no other stack can read. Give the example a " +
        "passphrase or KMS secrets provider (pulumi stack change-secrets-provider), whose salt or key travels with the file",
    );
  }
  const tags = ephemeralStackTags(ttl, expiryAfter(now, ttl));
  const regionDomain = `${name}.${example.domain}`;
  const config = document.get("config") as { set(key: string, value: unknown): void; delete(key: string): boolean };
  config.set("coturn:ephemeral", ttl.text);
  config.set(PULUMI_TAGS_KEY, document.createNode(tags));
  config.set("coturn:regionDomain", regionDomain);
  // The shared name belongs to the real regions: a test stack only publishes its own.
  if (example.cloudflare) config.set("coturn:publishSharedName", false);
  config.delete("coturn:instanceType");
  document.commentBefore =
    ` Test stack made by npm run test-stack from ${source.split("/").pop()} at ${now.toISOString().slice(0, 19)}Z; it expires at ` +
    `${tags["coturn:expires-at"]}.\n Remove it with: npm run test-stack -- down --stack ${name}`;
  writeFileSync(file, document.toString(), { flag: "wx" });
  try {
    return { file, tags, regionDomain, config: validateStackConfig(readStackFile(name, { mode: "placeholder" })) };
  } catch (error) {
    rmSync(file, { force: true });
    throw error;
  }
}
