/**
 * A fleet of three region stacks for the global stack's tests, made by running the real region program under mocks
 * (so the global stack reads exactly what region stacks output), from the example stacks moved to three continents:
 * aws eu-central-1 with two servers, gcp us-east4, digitalocean sgp1. Every region serves the shared name
 * turn.example.com and leaves its record to the global stack. The mocked clouds give every static IP the same
 * address, so each server's address is replaced by one of its own (198.51.100.1x).
 */
import { exampleConfig, readGlobalExample, runProgram, withValues, type HarnessConfig } from "./program";

/** The region stacks of stacks/Pulumi.global-example.yaml and the example each one is made from. */
export const FLEET = [
  { stack: "organization/coturn/aws-eu-central-1", example: "aws-example", changes: { "coturn:serverCount": "2" } },
  {
    stack: "organization/coturn/gcp-us-east4",
    example: "gcp-example",
    changes: { "coturn:region": "us-east4" },
  },
  {
    stack: "organization/coturn/digitalocean-sgp1",
    example: "digitalocean-example",
    changes: { "coturn:region": "sgp1" },
  },
] as const;

/** What every region of the fleet has in common. */
const SHARED = { "coturn:domain": "turn.example.com", "coturn:regionDomain": undefined } as const;

/** Outputs of a region stack, by stack name. */
export type FleetOutputs = Record<string, Record<string, unknown>>;

/** Runs the three region programs under mocks and returns their outputs, each server with an address of its own. */
export async function fleetOutputs(): Promise<FleetOutputs> {
  const runs = await Promise.all(
    FLEET.map(async ({ stack, example, changes }, regionIndex) => {
      const base = exampleConfig(example);
      const cloudflare = base.values["coturn:cloudflareZoneId"] === undefined ? {} : { "coturn:publishSharedName": "false" };
      const run = await runProgram(withValues(base, { ...SHARED, ...cloudflare, ...changes }));
      if (run.error) throw new Error(`${example} did not run: ${run.error}`);
      const servers = (run.outputs.servers as Array<Record<string, unknown>>).map((server, i) => ({
        ...server,
        publicIp: `198.51.100.${10 * (regionIndex + 1) + i + 1}`,
      }));
      return [stack, { ...run.outputs, servers, publicIp: servers[0].publicIp }] as const;
    }),
  );
  return Object.fromEntries(runs);
}

/** The global example stack's config, reading `references` through its StackReferences. */
export function globalExample(references: FleetOutputs, changes: Record<string, string | undefined> = {}): HarnessConfig {
  return { ...withValues(readGlobalExample(), changes), stackReferences: references };
}
