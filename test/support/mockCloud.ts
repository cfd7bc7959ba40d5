/**
 * What the mocked cloud answers, and the shape of a recorded program run (see programHarness.ts).
 */

/** What the harness prints. */
export interface ProgramRun {
  resources: Array<{ type: string; name: string; inputs: Record<string, unknown>; options: RecordedOptions }>;
  invokes: Array<{ token: string; inputs: Record<string, unknown> }>;
  outputs: Record<string, unknown>;
  error?: string;
}

/** The resource options the tests check. */
export interface RecordedOptions {
  protect: boolean;
  deleteBeforeReplace: boolean;
  /** Resources this one waits for (explicit dependsOn plus input dependencies). */
  dependsOnCount: number;
}

/** Mocked cloud answers. */
export const MOCK = {
  publicIp: "198.51.100.20",
  allocationId: "eipalloc-0mock",
  amiId: "ami-0mockdebian",
  amiName: "debian-12-arm64-20261101-1234",
  zones: ["eu-central-1b", "eu-central-1a", "eu-central-1c"],
} as const;
