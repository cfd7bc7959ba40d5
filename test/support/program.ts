/**
 * Runs the Pulumi program under mocks in a child process (the lab's mock engine, lab/mocks/programHarness.ts) and
 * returns what it registered.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readStackFile } from "../../src/config/stackFile";
import { exampleStackValues, LAB_CLOUDFLARE_TOKEN, LAB_SECRET } from "../../lab/exampleStack";
import type { ProgramRun } from "../../lab/mocks/mockCloud";
import { PROGRAM_HARNESS } from "../../lab/mocks/programHarnessPath";

export type { ProgramRun } from "../../lab/mocks/mockCloud";
/** An example stack's validated config, with the test secret: what the program deploys under mocks. */
export { exampleStackConfig } from "../../lab/exampleStack";

/** A 64-character secret used only by tests (the lab's); assertions check that it never shows up in outputs. */
export const TEST_SECRET = LAB_SECRET;

/** A Cloudflare API token used only by tests (the lab's); assertions check that it never shows up in outputs or user-data. */
export const TEST_CLOUDFLARE_TOKEN = LAB_CLOUDFLARE_TOKEN;

/** A stack config as the harness takes it. */
export interface HarnessConfig {
  stack: string;
  values: Record<string, string>;
  secretKeys: string[];
  /** Outputs of the stacks StackReferences may read, by stack name (global stacks). */
  stackReferences?: Record<string, Record<string, unknown>>;
}

/** An example stack's config, with test values in place of its encrypted ones (the lab's). Default: the AWS example. */
export function exampleConfig(stack = "aws-example"): HarnessConfig {
  return exampleStackValues(stack);
}

/** The global example stack's config (stacks/Pulumi.global-example.yaml), with the test Cloudflare token. */
export function readGlobalExample(): HarnessConfig {
  const raw = readStackFile("global-example", { mode: "placeholder" });
  return { stack: raw.stack, values: { ...raw.values, "coturn:cloudflareApiToken": TEST_CLOUDFLARE_TOKEN }, secretKeys: [...raw.secretKeys] };
}

/** Another program than index.ts for `runProgram`: a user's program of its own, in a project of its own. */
export interface OtherProgram {
  /** Path of the program module. */
  readonly path: string;
  /** Its Pulumi project name. */
  readonly project: string;
}

/**
 * Runs index.ts (or `other`) under mocks with the given config (in a child process, so several can run at once).
 */
export async function runProgram(config: HarnessConfig, other?: OtherProgram): Promise<ProgramRun> {
  let stdout: string;
  const programEnv = other ? { HARNESS_PROGRAM: other.path, HARNESS_PROJECT: other.project } : {};
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", PROGRAM_HARNESS], {
      env: { ...process.env, ...programEnv, HARNESS_CONFIG: JSON.stringify(config) },
      encoding: "utf8",
      timeout: 60_000,
    }));
  } catch (error) {
    // A program that throws leaves Pulumi's promises pending, and Pulumi's exit hook then sets exit code 1; the
    // harness has printed the run by then.
    stdout = String((error as { stdout?: unknown }).stdout ?? "");
    if (!stdout.trim()) throw error;
  }
  const line = stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line) as ProgramRun;
}

/** A copy of `config` with some values changed (undefined removes a key). */
export function withValues(config: HarnessConfig, changes: Record<string, string | undefined>, secretKeys: string[] = []): HarnessConfig {
  const values = { ...config.values };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete values[key];
    else values[key] = value;
  }
  return { ...config, values, secretKeys: [...new Set([...config.secretKeys, ...secretKeys])] };
}

/**
 * Config values of a test stack with time to live `ttl`, as `npm run test-stack` writes them: `coturn:ephemeral` and
 * the `pulumi:tags` marker and expiry (now + ttl, or `expiresAt`).
 */
export function ephemeralValues(ttl: string, expiresAt?: string): Record<string, string> {
  const ttlMs = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[ttl.slice(-1)] ?? Number.NaN;
  const expiry = expiresAt ?? `${new Date(Date.now() + Number(ttl.slice(0, -1)) * ttlMs).toISOString().slice(0, 19)}Z`;
  return { "coturn:ephemeral": ttl, "pulumi:tags": JSON.stringify({ "coturn:ephemeral": ttl, "coturn:expires-at": expiry }) };
}
