/**
 * Probing every server behind the shared name: the global stack's `regions` output lists each region's servers, and
 * each is probed at its own address as a client that asked for the shared name would reach it (TLS with the shared
 * name as SNI, so the certificate must name it; relayed addresses on that server's static IP).
 */
import { isIPv4 } from "node:net";
import { z } from "zod";
import { runProbe, type CheckResult, type ProbeTarget } from "./probeChecks";
import { ProbeInputError } from "./target";

const regionsOutputSchema = z.array(
  z.object({
    stack: z.string(),
    pool: z.string(),
    drained: z.boolean(),
    servers: z.array(z.object({ name: z.string(), publicIp: z.string().refine(isIPv4) })),
  }),
);

/** The global stack's `regions` output, as the probe needs it. */
export type FleetRegions = z.output<typeof regionsOutputSchema>;

/**
 * Reads a stack output as the probe's regions: a global stack's `regions` (JSON text), or, with `singleRegion`, a
 * region stack's `servers` as its one region. Throws ProbeInputError naming the stack and the fix.
 */
export function parseFleetRegions(stack: string, json: string, singleRegion = false): FleetRegions {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    parsed = undefined;
  }
  if (singleRegion) parsed = [{ stack, pool: stack, drained: false, servers: parsed }];
  const result = regionsOutputSchema.safeParse(parsed);
  if (!result.success) {
    const output = singleRegion ? `servers output of stack "${stack}" is not a list of servers` : `regions output of global stack "${stack}" is not a list of regions with servers`;
    throw new ProbeInputError(`the ${output}: run \`pulumi up\` on it with this version`);
  }
  return result.data;
}

/** One server's probe. */
export interface ServerProbe {
  /** Region stack. */
  readonly stack: string;
  /** Its pool. */
  readonly pool: string;
  /** Whether the region is drained (still probed: it still carries the calls that began before). */
  readonly drained: boolean;
  /** Server name. */
  readonly server: string;
  /** Its static IP. */
  readonly address: string;
  /** Every check. */
  readonly results: readonly CheckResult[];
}

/**
 * Probes each server of each region in turn with `base` (credentials, transports, timeouts, TLS trust), connecting to
 * the server's address and naming `sharedName` in TLS. `onServer` is called before each server (for progress).
 */
export async function probeFleet(
  regions: FleetRegions,
  sharedName: string,
  base: Omit<ProbeTarget, "host" | "expectedRelayIp">,
  onServer: (region: FleetRegions[number], server: string, address: string) => void = () => undefined,
): Promise<ServerProbe[]> {
  const probes: ServerProbe[] = [];
  for (const region of regions) {
    for (const server of region.servers) {
      onServer(region, server.name, server.publicIp);
      const target: ProbeTarget = { ...base, host: server.publicIp, expectedRelayIp: server.publicIp, tls: { ...base.tls, servername: sharedName } };
      const results = await runProbe(target);
      probes.push({ stack: region.stack, pool: region.pool, drained: region.drained, server: server.name, address: server.publicIp, results });
    }
  }
  return probes;
}

/** One table row per server: region, server, address, checks passed, and the first failure. */
export function fleetRows(probes: readonly ServerProbe[]): string[][] {
  return probes.map((p) => {
    const failed = p.results.filter((r) => !r.ok);
    return [
      `${p.pool}${p.drained ? " (drained)" : ""}`,
      p.server,
      p.address,
      `${p.results.length - failed.length}/${p.results.length}`,
      failed.length === 0 ? "pass" : "FAIL",
      failed[0] ? `${failed[0].check} (${failed[0].transport}): ${failed[0].detail}` : "",
    ];
  });
}

/** Header of `fleetRows`. */
export const FLEET_HEADER = ["pool", "server", "address", "checks", "result", "first failure"] as const;
