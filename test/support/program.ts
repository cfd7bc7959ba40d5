/**
 * Runs the Pulumi program under mocks in a child process (see programHarness.ts) and returns what it registered.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { readStackFile } from "../../src/config/stackFile";
import type { ProgramRun } from "./mockCloud";

export type { ProgramRun } from "./mockCloud";

/** A 64-character secret used only by tests; assertions check that it never shows up in outputs. */
export const TEST_SECRET = "T3st-only-secret-Zm9vYmFyYmF6cXV4LWNvdHVybi1wdWx1bWktdGVzdHM0NTY3OA";

/** The example stack's config, with the test secret in place of its encrypted one. */
export function exampleConfig(): { stack: string; values: Record<string, string>; secretKeys: string[] } {
  const raw = readStackFile("aws-example", { mode: "placeholder" });
  return {
    stack: raw.stack,
    values: { ...raw.values, "coturn:authSecret": TEST_SECRET },
    secretKeys: [...raw.secretKeys],
  };
}

/** Runs index.ts under mocks with the given config. */
export function runProgram(config: { stack: string; values: Record<string, string>; secretKeys: string[] }): ProgramRun {
  const out = execFileSync(process.execPath, ["--import", "tsx", join(__dirname, "programHarness.ts")], {
    env: { ...process.env, HARNESS_CONFIG: JSON.stringify(config) },
    encoding: "utf8",
    timeout: 60_000,
  });
  const line = out.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line) as ProgramRun;
}
